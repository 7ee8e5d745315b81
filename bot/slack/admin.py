"""``/expansion admin …``: re-read the config file, poll the sources now.

Only the user ids in ``slack.admins`` may run them; with none configured they are off. Every
attempt — done, refused or failed — is written to the audit log.
"""

from __future__ import annotations

import logging
import threading
import uuid
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import db.audit
import db.runs
from bot.infra.leases import HOLDER, run_exclusively
from bot.infra.settings import AppConfig, load_app_config
from bot.poll.run import run_poll
from bot.scheduler import LEASE, LEASE_TTL
from bot.slack.blocks.base import message_reply
from bot.slack.deps import Deps
from bot.slack.model import Reply
from bot.slack.mrkdwn import code, mention
from db.engine import transaction
from db.models import utcnow
from scoring.config import ConfigError

log = logging.getLogger(__name__)

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
    except (ConfigError, OSError) as exc:  # invalid, or unreadable (permissions, a folder)
        _audit(deps, user_id, "admin.reload", outcome="invalid", error=str(exc)[:500])
        return message_reply(
            "The config file was *not* reloaded; the old config stays in use.\n" + code(str(exc))
        )
    apply_config(deps, config)
    _audit(deps, user_id, "admin.reload", outcome="reloaded", path=str(path))
    log.info("config reloaded from %s by %s", path, user_id)
    return message_reply(
        f"Reloaded {code(str(path))}. Commands, buttons, routing, delivery and the poll use it"
        " from now on; `slack.team_id` and the other Slack jobs change at the next restart."
    )


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
