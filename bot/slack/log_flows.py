"""Logging a message or typed words as an expansion signal (issue 12): the modal's source and
suggestion, the permalink, and one transaction for the event and the re-scoring."""

from __future__ import annotations

import logging
from dataclasses import replace
from datetime import UTC, date, datetime
from typing import Any

from pydantic import ValidationError
from slack_sdk.errors import SlackApiError

import db.accounts
import db.alerts
from bot.slack import kinds, signals
from bot.slack.blocks.modals import (
    log_modal,
)
from bot.slack.blocks.replies import (
    log_ambiguous,
    logged_reply,
    no_match,
)
from bot.slack.deps import Deps
from bot.slack.errors import UserError, is_unavailable
from bot.slack.model import STALE_LOG, LogSource, Reply
from bot.slack.parse import Parsed
from db.engine import transaction
from db.models import Account
from scoring.evidence import fmt_date

log = logging.getLogger(__name__)


def log_typed(deps: Deps, *, user_id: str, cmd: Parsed) -> Reply:
    """``/expansion log <account> <kind> [on YYYY-MM-DD] <text>``: dated today on the
    person's clock unless they say otherwise."""
    today = deps.local_now(user_id).date()
    on = cmd.on or today
    if on > today:
        raise UserError(f"{fmt_date(on)} is after today. Log what has already happened.")
    found = deps.search.find(cmd.query)
    if not found.matches:
        return no_match(cmd.query, found.suggestions)
    if len(found.matches) > 1:
        return log_ambiguous(cmd.query, found.matches)
    return _log(
        deps,
        user_id=user_id,
        account_id=found.matches[0][0],
        kind=cmd.kind,
        on=on,
        note=cmd.note,
        key=kinds.typed_key(cmd.kind, on, cmd.note),
        permalink=None,
        today=today,
    )


def shortcut_source(body: dict[str, Any]) -> tuple[LogSource, str, str | None]:
    """From a message shortcut's payload: the message (channel, ts, where to answer), its
    text, and the thread it is in (None at the top level)."""
    message = body.get("message") or {}
    thread = message.get("thread_ts")
    try:
        source = LogSource.model_validate(
            {
                "channel": (body.get("channel") or {}).get("id"),
                "ts": message.get("ts") or body.get("message_ts"),
                "response_url": body.get("response_url") or None,
            }
        )
    except ValidationError:
        raise UserError("I can't log this message: Slack did not say where it is.") from None
    text = message.get("text")
    return (
        source,
        text if isinstance(text, str) else "",
        thread if isinstance(thread, str) else None,
    )


def fill_log_modal(
    deps: Deps,
    *,
    view: dict[str, Any],
    source: LogSource,
    text: str,
    channel_name: str | None,
    thread_ts: str | None,
) -> None:
    """After the modal is open: add the message's permalink and the account the channel
    suggests, if any. Losing the race to the person's own submit only loses the preview."""
    permalink = message_permalink(deps, source.channel, source.ts)
    try:
        suggestion = log_suggestion(
            deps,
            channel=source.channel,
            channel_name=channel_name,
            ts=source.ts,
            thread_ts=thread_ts,
        )
    except Exception as exc:  # the form is open and works without it: say nothing
        if not is_unavailable(exc):
            raise
        log.warning("no account suggestion for the log form: the database is not answering")
        suggestion = None
    if permalink is None and suggestion is None:
        return
    source = LogSource.model_validate(source.model_dump() | {"permalink": permalink})
    suggested, why = (suggestion[0], suggestion[1]) if suggestion else (None, None)
    try:
        deps.client.views_update(
            view_id=view["id"],
            hash=view.get("hash"),
            view=log_modal(source, text, suggested=suggested, why=why),
        )
    except SlackApiError as exc:
        log.info("the log modal was not updated: %s", exc.response.get("error"))


def message_permalink(deps: Deps, channel: str, ts: str) -> str | None:
    try:
        answer = deps.client.chat_getPermalink(channel=channel, message_ts=ts)
    except SlackApiError as exc:
        log.info("no permalink for a logged message: %s", exc.response.get("error"))
        return None
    link = answer.get("permalink")
    try:
        return LogSource(channel=channel, ts=ts, permalink=link).permalink
    except ValidationError:
        return None


def log_suggestion(
    deps: Deps, *, channel: str, channel_name: str | None, ts: str, thread_ts: str | None
) -> tuple[tuple[int, str], str] | None:
    """The account a message in this channel is most likely about, and why: the channel is
    mapped to it in the config (``slack.account_channels``, by id or '#name'); the message
    is its alert or in the alert's thread; or every alert posted in the channel is its."""
    mapped = deps.config.slack.account_channels
    key = mapped.get(channel) or (mapped.get(f"#{channel_name.lower()}") if channel_name else None)
    with deps.factory() as session:
        if key:
            account = db.accounts.account_by_key(session, key)
            if account is not None and account.id is not None:
                return (account.id, account.name), "this channel is set to it"
            log.warning("slack.account_channels names %r, which is no account's key", key)
        account_id = db.alerts.account_of_alert_message(
            session, channel=channel, ts=(ts, thread_ts)
        )
        why = "the message is part of its alert"
        if account_id is None:
            only = db.alerts.accounts_alerted_in(session, channel=channel, limit=2)
            account_id = only[0] if len(only) == 1 else None
            why = "its alerts are posted in this channel"
        found = session.get(Account, account_id) if account_id is not None else None
        if found is None or found.id is None:
            return None
        return (found.id, found.name), why


def log_from_modal(
    deps: Deps, *, user_id: str, source: LogSource, account_id: int, kind: str, note: str
) -> Reply:
    """The modal was submitted: dated the day the message was sent, on the person's clock."""
    local = deps.local_now(user_id)
    try:
        sent = datetime.fromtimestamp(float(source.ts), UTC).astimezone(local.tzinfo).date()
    except (OverflowError, OSError, ValueError):
        raise UserError(STALE_LOG) from None
    permalink = source.permalink or message_permalink(deps, source.channel, source.ts)
    return _log(
        deps,
        user_id=user_id,
        account_id=account_id,
        kind=kind,
        on=min(sent, local.date()),
        note=note,
        key=kinds.message_key(source.channel, source.ts),
        permalink=permalink,
        today=local.date(),
    )


def _log(
    deps: Deps,
    *,
    user_id: str,
    account_id: int,
    kind: str,
    on: date,
    note: str,
    key: str,
    permalink: str | None,
    today: date,
) -> Reply:
    """One transaction: the event, then the re-scoring with its episodes, alerts and outbox
    rows. The caller delivers ``refresh_alert`` after answering."""
    with transaction(deps.factory) as session:
        logged = signals.log_signal(
            session,
            account_id=account_id,
            kind=kind,
            on=on,
            detail=note,
            key=key,
            user_id=user_id,
            permalink=permalink,
            config=deps.config,
            today=today,
        )
    return replace(logged_reply(logged), refresh_alert=logged.alert_id)
