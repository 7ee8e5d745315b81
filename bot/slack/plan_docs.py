"""The "Plan document" button's Slack side: seed 002's plan, published as a canvas where the
workspace allows canvases, else uploaded as a Markdown file, and linked where it was asked for.

Called from the lazy part of the listener (the click is acknowledged first). A workspace that
refuses canvases (free teams, canvases turned off, a token without ``canvases:write``) answers
``canvases.create`` with an error, and any such refusal falls back to the file: the person gets
the plan either way (signals-contracts.md 5.4, 5.5).
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from datetime import date

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from bot.slack.blocks.steps import plan_document_text

log = logging.getLogger(__name__)

# Answers that mean "no canvases here" (5.4); anything else is logged as unexpected, but the
# file is still the way out.
CANVAS_REFUSALS = frozenset(
    {
        "free_teams_cannot_create_non_tabbed_canvases",
        "canvas_disabled_user_team",
        "team_tier_cannot_create_channel_canvases",
        "restricted_action",
        "missing_scope",
        "not_allowed_token_type",
    }
)


@dataclass(frozen=True)
class Published:
    kind: str  # canvas | file
    id: str
    channel: str
    thread_ts: str | None


@dataclass(frozen=True)
class Where:
    """Where the plan goes: a channel thread, or the person's DM (``user`` set)."""

    channel: str
    thread_ts: str | None = None
    user: str | None = None


def filename_for(key: str) -> str:
    """A file name any system accepts: the account key, reduced to safe characters."""
    safe = re.sub(r"[^A-Za-z0-9._-]+", "-", key).strip("-.") or "account"
    return f"expansion-plan-{safe[:80]}.md"


def publish(
    client: WebClient,
    *,
    name: str,
    key: str,
    as_of: date,
    markdown: str,
    where: Where,
) -> Published:
    """A canvas, shared with the channel (or the person) and linked in the thread; else a file."""
    title = f"Expansion plan — {name}"[:250]
    try:
        canvas_id = _canvas(client, title=title, markdown=markdown, where=where)
    except SlackApiError as exc:
        error = str(exc.response.get("error"))
        if error in CANVAS_REFUSALS:
            log.info("canvases are not available (%s): sharing the plan as a file", error)
        else:
            log.warning("canvas failed (%s): sharing the plan as a file", error)
    else:
        client.chat_postMessage(
            channel=where.channel,
            thread_ts=where.thread_ts,
            text=plan_document_text(name, as_of, _canvas_link(client, canvas_id)),
        )
        return Published("canvas", canvas_id, where.channel, where.thread_ts)
    done = client.files_upload_v2(
        channel=where.channel,
        thread_ts=where.thread_ts,
        content=markdown,
        filename=filename_for(key),
        title=title,
        initial_comment=plan_document_text(name, as_of, None),
    )
    return Published("file", str(done["file"]["id"]), where.channel, where.thread_ts)


def _canvas(client: WebClient, *, title: str, markdown: str, where: Where) -> str:
    made = client.canvases_create(
        title=title, document_content={"type": "markdown", "markdown": markdown}
    )
    canvas_id = str(made["canvas_id"])
    if where.user is not None:
        client.canvases_access_set(canvas_id=canvas_id, access_level="read", user_ids=[where.user])
    else:
        client.canvases_access_set(
            canvas_id=canvas_id, access_level="read", channel_ids=[where.channel]
        )
    return canvas_id


def _canvas_link(client: WebClient, canvas_id: str) -> str:
    """The canvas's address in this workspace (its URL and team from ``auth.test``)."""
    auth = client.auth_test()
    base = str(auth.get("url") or "https://slack.com/").rstrip("/")
    return f"{base}/docs/{auth.get('team_id')}/{canvas_id}"
