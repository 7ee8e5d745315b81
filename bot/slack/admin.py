"""``/expansion admin …``: re-read the config file, poll the sources now.

Only the user ids in ``slack.admins`` may run them; with none configured they are off. Every
attempt — done, refused or failed — is written to the audit log. A reload is reviewable: what
changed is posted to ``slack.admin_channel`` (queued with the audit row), or, with no admin
channel, listed in the answer, so the diff is never lost.
"""

from __future__ import annotations

import logging
import threading
import uuid
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import db.audit
import db.outbox
import db.runs
from bot.infra.config_diff import config_changes
from bot.infra.leases import HOLDER, run_exclusively
from bot.infra.settings import AppConfig, check_shadow_channel, load_app_config
from bot.poll.run import run_poll
from bot.scheduler import LEASE, LEASE_TTL
from bot.slack.blocks.base import SECTION_TEXT, message_reply
from bot.slack.deps import Deps
from bot.slack.model import Reply
from bot.slack.mrkdwn import channel_ref, code, cut, escape, mention
from db.engine import transaction
from db.models import utcnow
from db.outbox_payloads import AdminNote
from scoring.config import ConfigError
from scoring.evidence import plural

log = logging.getLogger(__name__)

MAX_LISTED = 40  # changes listed in a note or an answer; the rest are counted
CHANGE_TEXT = 300  # one change's line, at most (a long routing list, a mapping)
TAKES_EFFECT = (
    "Commands, buttons, routing, delivery, the poll and the Slack jobs use it from now on;"
    " `slack.team_id` and how often the jobs run change at the next restart."
)
NO_ADMINS = (
    "Admin commands are off: nobody is configured as an admin. Add Slack user ids under"
    " `slack.admins` in the config file (`EXPANSION_RADAR_CONFIG`) and restart the bot."
)


def command(deps: Deps, *, user_id: str, action: str) -> Reply:
    """Run ``action`` (reload | poll) for ``user_id`` if they are an admin."""
    refusal = _refusal(deps.config, user_id)
    if refusal is not None:
        _audit(deps, user_id, f"admin.{action}", outcome="refused")
        return message_reply(refusal)
    if action == "reload":
        return _reload(deps, user_id)
    return _poll(deps, user_id)


def _refusal(config: AppConfig, user_id: str) -> str | None:
    admins = config.slack.admins
    if not admins:
        return NO_ADMINS
    if user_id in admins:
        return None
    names = ", ".join(mention(a) for a in admins[:5]) + (" …" if len(admins) > 5 else "")
    return f"Sorry, only Expansion Radar admins can do that. Ask {names}."


def _audit(deps: Deps, user_id: str, action: str, **detail: Any) -> None:
    with transaction(deps.factory) as session:
        db.audit.audit(
            session, user_id=user_id, action=action, target_type="config", target_id=None, **detail
        )


def _reload(deps: Deps, user_id: str) -> Reply:
    """Validate the file first; only a good one replaces the config in use."""
    path = deps.settings.expansion_radar_config
    if path is None:
        _audit(deps, user_id, "admin.reload", outcome="no_file")
        return message_reply(
            "There is no config file to reload: `EXPANSION_RADAR_CONFIG` is not set."
        )
    try:
        config = load_app_config(path)
        check_shadow_channel(config, deps.settings.expansion_channel)
    except (ConfigError, OSError) as exc:  # invalid, or unreadable (permissions, a folder)
        _audit(deps, user_id, "admin.reload", outcome="invalid", error=str(exc)[:500])
        return message_reply(
            "The config file was *not* reloaded; the old config stays in use.\n" + code(str(exc))
        )
    changes = config_changes(deps.config, config)
    apply_config(deps, config)  # first: the sender then posts the note with the new config
    channel = config.slack.admin_channel
    with transaction(deps.factory) as session:
        db.audit.audit(
            session,
            user_id=user_id,
            action="admin.reload",
            target_type="config",
            target_id=None,
            outcome="reloaded",
            path=str(path),
            changes=len(changes),
        )
        if channel is not None:  # with none, the sender could only log it: the answer lists it
            note = AdminNote(reload_note(user_id, str(path), changes))
            db.outbox.enqueue(session, note, alert=None, priority=db.outbox.ADMIN_PRIORITY)
    log.info("config reloaded from %s by %s: %s", path, user_id, "; ".join(changes) or "no changes")
    return message_reply(_reload_answer(str(path), changes, channel))


def _counted(changes: list[str]) -> str:
    return plural(len(changes), "change") if changes else "no changes"


def changes_text(changes: list[str], limit: int = SECTION_TEXT) -> str:
    """The changes as bullet lines (the first ``MAX_LISTED``, the rest counted), within
    ``limit`` characters. Values come from the file, so they are escaped like user text."""
    bullets = [f"• {cut(escape(c, single_line=True), CHANGE_TEXT)}" for c in changes]
    shown = bullets[:MAX_LISTED]
    while True:
        left = len(bullets) - len(shown)
        text = "\n".join([*shown, f"…and {left} more"] if left else shown)
        if len(text) <= limit or not shown:
            return text
        shown.pop()


def reload_note(user_id: str, path: str, changes: list[str]) -> str:
    """The admin channel's note: who reloaded which file, and what changed."""
    who = f"{mention(user_id)} reloaded the config from {code(path)}"
    if not changes:
        return f"{who}: nothing changed."
    head = f"{who}: {_counted(changes)}."
    return f"{head}\n{changes_text(changes, SECTION_TEXT - len(head) - 1)}"


def _reload_answer(path: str, changes: list[str], channel: str | None) -> str:
    head = f"Reloaded {code(path)}: {_counted(changes)}"
    if not changes:
        return f"{head}. {TAKES_EFFECT}"
    if channel is not None:
        return f"{head}, listed in {channel_ref(channel)}. {TAKES_EFFECT}"
    head += " (no `slack.admin_channel` is configured, so they are listed only here):"
    room = SECTION_TEXT - len(head) - len(TAKES_EFFECT) - 2
    return f"{head}\n{changes_text(changes, room)}\n{TAKES_EFFECT}"


def apply_config(deps: Deps, config: AppConfig) -> None:
    """Swap ``config`` in for everything that reads it per request."""
    deps.config = config
    deps.router.reconfigure(config)
    deps.sender.config = config
    for hook in deps.on_reload:
        try:
            hook(config)
        except Exception:
            log.exception("applying the reloaded config failed in %s", hook)


def _poll(deps: Deps, user_id: str) -> Reply:
    """Take the ``poll`` lease now (so the answer is honest), poll in a thread, answer at once."""
    holder = f"{HOLDER}:admin:{uuid.uuid4().hex[:8]}"  # not ours: never shared with a running job
    with transaction(deps.factory) as session:
        taken = db.runs.acquire_lease(
            session, name=LEASE, holder=holder, now=utcnow(), ttl=LEASE_TTL
        )
    if not taken:
        _audit(deps, user_id, "admin.poll", outcome="busy")
        return message_reply(
            "A poll is already running (scheduled, or started by someone else). "
            "Its results show up when it finishes; try again after that."
        )
    _audit(deps, user_id, "admin.poll", outcome="started")
    config = deps.config
    today = datetime.now(ZoneInfo(config.sources.schedule.timezone)).date()

    def job() -> None:
        try:
            run_exclusively(
                deps.factory,
                LEASE,
                lambda: run_poll(deps.settings, config, deps.factory, today=today),
                ttl=LEASE_TTL,
                holder=holder,
            )
        except Exception:
            log.exception("poll started by %s failed", user_id)

    threading.Thread(target=job, name="admin-poll", daemon=True).start()
    return message_reply(
        "Started a poll of every configured source. New alerts arrive as usual when it is done;"
        " `expansion-radar status` shows each source's result."
    )
