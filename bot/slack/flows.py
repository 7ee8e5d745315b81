"""Between a listener and the services: one transaction per interaction, then blocks.

Listeners stay a few lines (ack, call a flow, answer); flows know the session, the user's
timezone and which message to refresh, and never touch Bolt.
"""

from __future__ import annotations

import logging
from dataclasses import replace
from datetime import UTC, date, datetime, time
from typing import Any

from pydantic import ValidationError
from slack_sdk.errors import SlackApiError
from slack_sdk.models.views import View
from sqlmodel import Session

from bot.slack import admin, kinds, plan_cards, services, signals
from bot.slack.blocks.base import message_reply
from bot.slack.blocks.cards import card_reply
from bot.slack.blocks.digests import snoozed_reply, stats_reply
from bot.slack.blocks.home import home_view
from bot.slack.blocks.modals import (
    log_modal,
    not_now_modal,
    outcome_modal,
    owner_modal,
    reassign_modal,
    skip_modal,
    snooze_modal,
)
from bot.slack.blocks.replies import (
    help_reply,
    list_reply,
    log_ambiguous,
    logged_reply,
    no_match,
    pick_list,
)
from bot.slack.blocks.steps import outcome_text, plan_reply, step_blocks, step_text
from bot.slack.deps import Deps
from bot.slack.errors import UserError, is_unavailable
from bot.slack.ids import Callback
from bot.slack.model import STALE, STALE_LOG, ActionValue, Card, LogSource, Reply, StepCard
from bot.slack.mrkdwn import escape
from bot.slack.parse import Parsed, parse
from bot.when import WhenError, parse_when
from db import repo
from db.engine import transaction
from db.models import Account, Alert
from scoring.evidence import fmt_date

log = logging.getLogger(__name__)


# --- /expansion ----------------------------------------------------------------------------


def expansion(deps: Deps, *, user_id: str, text: str) -> Reply:
    """Answer ``/expansion <text>``; anything unreadable gets the help text."""
    cmd = parse(text)
    if cmd.verb == "help":
        return help_reply(cmd.problem)
    if cmd.verb == "snoozed":
        return snoozed(deps, user_id=user_id)
    if cmd.verb == "stats":
        return stats(deps, user_id=user_id)
    if cmd.verb == "admin":
        return admin.command(deps, user_id=user_id, action=cmd.query)
    if cmd.verb == "log":
        return log_typed(deps, user_id=user_id, cmd=cmd)
    local = deps.local_now(user_id)
    if cmd.verb in ("top", "mine"):
        emails = deps.emails_for(user_id)
        with deps.factory() as session:
            return _book_reply(deps, session, user_id, emails, cmd.verb, cmd.n)
    with transaction(deps.factory) as session:
        found = _resolve(deps, session, cmd.query)
        if not isinstance(found, Account):
            return found
        if cmd.verb == "card":
            card = services.account_card(
                session, account=found, config=deps.config, today=local.date()
            )
            return card_reply(card)
        if cmd.verb == "plan":
            reply = _start_plan(deps, session, user_id, found, None, local)
            alert = repo.open_alert(session, found.id) if found.id else None
            return replace(reply, refresh_alert=alert.id if alert else None)
        alert = _open_alert(session, found)
        if cmd.verb == "ack":
            services.acknowledge(session, alert_id=_id(alert), user_id=user_id, now=deps.clock())
            reply_text = f"Acknowledged *{escape(found.name, single_line=True)}*. Good luck!"
        else:
            until = _when(session, cmd.when, local, found)
            services.snooze(
                session, alert_id=_id(alert), user_id=user_id, until=until, now=deps.clock()
            )
            reply_text = (
                f"Snoozed *{escape(found.name, single_line=True)}* until"
                f" {until:%a %d %b %Y, %H:%M} your time. I'll bring it back then."
            )
    return replace(message_reply(reply_text), refresh_alert=_id(alert))


def _resolve(deps: Deps, session: Session, query: str) -> Account | Reply:
    result = deps.search.find(query)
    if len(result.matches) == 1:
        account = session.get(Account, result.matches[0][0])
        if account is not None:
            return account
    if len(result.matches) > 1:
        return pick_list(query, [(i, name, domain) for i, _, name, domain in result.matches])
    return no_match(query, result.suggestions)


def _open_alert(session: Session, account: Account) -> Alert:
    assert account.id is not None
    alert = repo.open_alert(session, account.id)
    if alert is None:
        raise UserError(
            f"*{escape(account.name, single_line=True)}* has no open alert."
            f" See its card with `/expansion {escape(account.key)}`."
        )
    return alert


def _id(alert: Alert) -> int:
    assert alert.id is not None
    return alert.id


def _when(session: Session, text: str, local: datetime, account: Account) -> datetime:
    assert account.id is not None
    snap = repo.latest_snapshot(session, account.id)
    try:
        return parse_when(text, now_local=local, renewal_on=snap.renewal_on if snap else None)
    except WhenError as exc:  # it quotes what was typed: escape it like any user text
        raise UserError(escape(str(exc))) from None


def _book_reply(
    deps: Deps, session: Session, user_id: str, emails: list[str], verb: str, n: int | None
) -> Reply:
    if verb == "mine":
        rows = services.book(session, user_id=user_id, emails=emails)
        items = [services.list_item(a, acc) for a, acc in rows]
        return list_reply(
            "Your open alerts", items, "You have no open alerts. `/expansion top` shows the book."
        )
    limit = n or deps.config.slack.top_default
    rows = services.book(session, user_id=user_id, emails=emails, limit=limit)
    if rows:
        items = [services.list_item(a, acc) for a, acc in rows]
        return list_reply(f"Your top {len(items)} accounts", items, "")
    everyone = repo.top_open_alerts(session, limit=limit)
    items = [services.list_item(a, acc) for a, acc in everyone]
    return list_reply(
        f"Nothing open in your book — the team's top {len(items)}",
        items,
        "No open alerts anywhere right now.",
    )


def _start_plan(
    deps: Deps,
    session: Session,
    user_id: str,
    account: Account,
    alert_id: int | None,
    local: datetime,
) -> Reply:
    assert account.id is not None
    plan, created, steps, _ = services.start_plan(
        session,
        account_id=account.id,
        alert_id=alert_id,
        user_id=user_id,
        config=deps.config,
        today=local.date(),
        now=deps.clock(),
    )
    return plan_reply(
        account.name,
        plan.kind,
        created,
        [(s.due_on, s.name, s.status) for s in steps],
        plan_id=plan.id,
    )


# --- buttons and modals ------------------------------------------------------------------


def account_card(deps: Deps, *, user_id: str, account_id: int) -> Reply:
    local = deps.local_now(user_id)
    with deps.factory() as session:
        account = session.get(Account, account_id)
        if account is None:
            raise UserError("That account no longer exists.")
        card = services.account_card(
            session, account=account, config=deps.config, today=local.date()
        )
    return card_reply(card)


def refreshed(deps: Deps, alert_id: int) -> Card:
    """The alert's card as it is now (to redraw an ephemeral copy)."""
    with deps.factory() as session:
        found = repo.alert_and_account(session, alert_id)
        if found is None:
            raise UserError("That alert no longer exists.")
        alert, account = found
        return services.alert_card(session, alert=alert, account=account, today=deps.clock().date())


def _alert_id(value: ActionValue, deps: Deps | None = None) -> int:
    """The alert a button acts on; with ``deps``, also refuse a value whose alert and account
    disagree (our buttons never carry that: it is damaged, and must change nothing)."""
    if value.alert is None:
        raise UserError("This button is not tied to an alert any more.")
    if deps is not None and value.account is not None:
        with deps.factory() as session:
            alert = session.get(Alert, value.alert)
        if alert is not None and alert.account_id != value.account:
            raise UserError(STALE)
    return value.alert


def acknowledge(deps: Deps, *, user_id: str, value: ActionValue) -> Card:
    alert_id = _alert_id(value, deps)
    with transaction(deps.factory) as session:
        services.acknowledge(session, alert_id=alert_id, user_id=user_id, now=deps.clock())
    deps.sender.flush(alert_id)
    return refreshed(deps, alert_id)


def snooze(deps: Deps, *, user_id: str, value: ActionValue, when: str) -> Card:
    """``when``: 1d, 1w, 2w or an ISO date (from the modal)."""
    alert_id = _alert_id(value, deps)
    local = deps.local_now(user_id)
    with transaction(deps.factory) as session:
        found = repo.alert_and_account(session, alert_id)
        if found is None:
            raise UserError("That alert no longer exists.")
        until = _when(session, when, local, found[1])
        services.snooze(session, alert_id=alert_id, user_id=user_id, until=until, now=deps.clock())
    deps.sender.flush(alert_id)
    return refreshed(deps, alert_id)


def snooze_date_error(deps: Deps, *, user_id: str, day: str | None) -> str | None:
    """What is wrong with the date picked in the modal, if anything — checked in the ack, so
    on the clock as far as it is known (the snooze itself checks again on the person's)."""
    if not day or not isinstance(day, str):
        return "Pick a date."
    local = deps.known_now(user_id)
    try:
        parse_when(day, now_local=local)
    except WhenError as exc:
        return str(exc)[:150]
    return None


def dismiss(deps: Deps, *, user_id: str, value: ActionValue, reason: str, note: str | None) -> Card:
    alert_id = _alert_id(value, deps)
    with transaction(deps.factory) as session:
        services.dismiss(
            session, alert_id=alert_id, user_id=user_id, reason=reason, note=note, now=deps.clock()
        )
    deps.sender.flush(alert_id)
    return refreshed(deps, alert_id)


def start_plan(deps: Deps, *, user_id: str, value: ActionValue) -> Reply:
    local = deps.local_now(user_id)
    with transaction(deps.factory) as session:
        account_id = value.account
        if account_id is None and value.alert is not None:
            found = repo.alert_and_account(session, value.alert)
            account_id = found[1].id if found else None
        if account_id is None:
            raise UserError("This button is not tied to an account any more.")
        account = session.get(Account, account_id)
        if account is None:
            raise UserError("That account no longer exists.")
        if value.alert is not None:
            _alert_id(value, deps)
        reply = _start_plan(deps, session, user_id, account, value.alert, local)
    if value.alert is not None:
        deps.sender.flush(value.alert)
    return reply


def reassign(deps: Deps, *, user_id: str, value: ActionValue, new_owner: str) -> Card:
    alert_id = _alert_id(value, deps)
    with transaction(deps.factory) as session:
        services.reassign(
            session,
            alert_id=alert_id,
            user_id=user_id,
            new_owner=new_owner,
            config=deps.config,
            now=deps.clock(),
        )
    deps.sender.flush(alert_id)
    return refreshed(deps, alert_id)


def modal(deps: Deps, *, kind: str, user_id: str, value: ActionValue) -> View:
    """The snooze-date, not-now or reassign modal for this alert (before views.open: no
    Slack lookup)."""
    alert_id = _alert_id(value, deps)
    today = deps.known_now(user_id, read_cache=True).date()
    with deps.factory() as session:
        found = repo.alert_and_account(session, alert_id)
        if found is None:
            raise UserError("That alert no longer exists.")
        alert, account = found
        services_open = alert.status in ("open", "acknowledged", "snoozed")
        if not services_open:
            raise UserError(f"The alert for *{escape(account.name, single_line=True)}* is closed.")
        if kind == "reassign":  # say no before the picker opens, not after
            services.may_reassign(alert, user_id=user_id, config=deps.config)
    if kind == "snooze":
        return snooze_modal(account.name, value, today)
    if kind == "not_now":
        return not_now_modal(account.name, value)
    return reassign_modal(account.name, value, alert.owner_slack_id)


# --- App Home ----------------------------------------------------------------------------


def home(deps: Deps, *, user_id: str) -> View:
    local = deps.local_now(user_id)
    emails = deps.emails_for(user_id)
    with transaction(deps.factory) as session:
        data = services.home_data(session, user_id=user_id, emails=emails, today=local.date())
    return home_view(data)


# --- plan steps, plan outcomes, alert feedback (issue 5) --------------------------------


def _step_id(value: ActionValue) -> int:
    if value.step is None:
        raise UserError("This button is not tied to a plan step any more.")
    return value.step


def _plan_id(value: ActionValue) -> int:
    if value.plan is None:
        raise UserError("This button is not tied to a plan any more.")
    return value.plan


def redraw_step(deps: Deps, *, channel: str | None, ts: str | None, card: StepCard) -> None:
    """Edit the reminder someone acted on, so it shows who did what and when."""
    if not channel or not ts:
        return
    try:
        deps.client.chat_update(
            channel=channel,
            ts=ts,
            text=step_text(card),
            blocks=[b.to_dict() for b in step_blocks(card)],
        )
    except SlackApiError as exc:  # the change is saved; only the old message stays as it was
        log.warning("could not redraw step %s: %s", card.step_id, exc.response.get("error"))


def step_view(deps: Deps, *, step_id: int) -> StepCard:
    with deps.factory() as session:
        return plan_cards.step_card(session, step_id=step_id)


def step_done(deps: Deps, *, user_id: str, value: ActionValue) -> StepCard:
    with transaction(deps.factory) as session:
        return plan_cards.close_step(
            session,
            step_id=_step_id(value),
            user_id=user_id,
            status="done",
            note=None,
            now=deps.clock(),
        )


def step_skip(deps: Deps, *, user_id: str, value: ActionValue, note: str | None) -> StepCard:
    with transaction(deps.factory) as session:
        return plan_cards.close_step(
            session,
            step_id=_step_id(value),
            user_id=user_id,
            status="skipped",
            note=note,
            now=deps.clock(),
        )


def step_snooze(deps: Deps, *, user_id: str, value: ActionValue, when: str) -> StepCard:
    """``when``: 1d, 1w, 2w or an ISO date (from the modal); ends 09:00 the user's time."""
    step_id = _step_id(value)
    local = deps.local_now(user_id)
    with transaction(deps.factory) as session:
        found = repo.step_with_plan(session, step_id)
        if found is None:
            raise UserError("That plan step no longer exists.")
        until = _when(session, when, local, found[2])
        return plan_cards.snooze_step(
            session, step_id=step_id, user_id=user_id, until=until, now=deps.clock()
        )


def _email_of(deps: Deps, user_id: str) -> str:
    emails = deps.emails_for(user_id)
    if not emails:
        raise UserError(
            f"I couldn't find an email for <@{user_id}>, so I can't match them to CRM owners."
        )
    return emails[0]


def step_reassign(deps: Deps, *, user_id: str, value: ActionValue, new_user: str) -> StepCard:
    caller_emails, new_owner = deps.emails_for(user_id), _email_of(deps, new_user)
    with transaction(deps.factory) as session:
        return plan_cards.reassign_step(
            session,
            step_id=_step_id(value),
            user_id=user_id,
            caller_emails=caller_emails,
            new_owner=new_owner,
            config=deps.config,
            now=deps.clock(),
        )


def plan_reassign(deps: Deps, *, user_id: str, value: ActionValue, new_user: str) -> Reply:
    caller_emails, new_owner = deps.emails_for(user_id), _email_of(deps, new_user)
    with transaction(deps.factory) as session:
        _plan, account = plan_cards.reassign_plan(
            session,
            plan_id=_plan_id(value),
            user_id=user_id,
            caller_emails=caller_emails,
            new_owner=new_owner,
            config=deps.config,
            now=deps.clock(),
        )
        name = escape(account.name, single_line=True)
    return message_reply(f"↪️ The plan for *{name}* and its open steps now belong to <@{new_user}>.")


def read_arr(text: str | None) -> float:
    """ "12000", "12,000", "$12k" → 12000.0; anything else is a UserError with an example."""
    raw = (text or "").strip().lower().replace(",", "").replace("$", "").replace("€", "")
    factor = 1000.0 if raw.endswith("k") else 1.0
    try:
        value = float(raw.removesuffix("k")) * factor
    except ValueError:
        raise UserError("Type the expansion ARR as a number, for example 12000 or 12k.") from None
    if value < 0 or value != value or value > 1e12:
        raise UserError("Type the expansion ARR as a number, for example 12000 or 12k.")
    return value


def close_plan(
    deps: Deps,
    *,
    user_id: str,
    value: ActionValue,
    outcome: str,
    arr: float | None = None,
    reason: str | None = None,
    revisit: date | None = None,
) -> Reply:
    """Won, lost, or not this cycle (which brings the plan back at 09:00 on ``revisit``)."""
    local = deps.local_now(user_id)
    with transaction(deps.factory) as session:
        revisit_at = None
        if revisit is not None:
            if revisit <= local.date():
                raise UserError("Pick a revisit date after today.")
            revisit_at = datetime.combine(
                revisit, time(deps.config.slack.snooze_return_hour), tzinfo=local.tzinfo
            )
        plan, account = plan_cards.close_plan(
            session,
            plan_id=_plan_id(value),
            user_id=user_id,
            outcome=outcome,
            arr=arr,
            reason=reason,
            revisit_on=revisit,
            revisit_at=revisit_at,
            now=deps.clock(),
        )
        alert_id = plan.alert_id
    if alert_id is not None:
        deps.sender.flush(alert_id)
    return message_reply(outcome_text(account.name, outcome, arr, reason, revisit))


def feedback(deps: Deps, *, user_id: str, value: ActionValue, vote: str) -> Card:
    alert_id = _alert_id(value, deps)
    with transaction(deps.factory) as session:
        services.record_feedback(
            session, alert_id=alert_id, user_id=user_id, value=vote, now=deps.clock()
        )
    deps.sender.flush(alert_id)
    return refreshed(deps, alert_id)


def plan_modal(deps: Deps, *, kind: str, user_id: str, value: ActionValue) -> View:
    """Step snooze-date, skip, step or plan reassign, and outcome modals (before views.open:
    no Slack lookup)."""
    today = deps.known_now(user_id, read_cache=True).date()
    with deps.factory() as session:
        if kind in ("step_snooze", "step_skip", "step_reassign"):
            found = repo.step_with_plan(session, _step_id(value))
            if found is None:
                raise UserError("That plan step no longer exists.")
            step, plan, account = found
            owner = step.owner or plan.owner
            current = plan_cards.slack_id_of(session, owner)
            if kind == "step_snooze":
                return snooze_modal(
                    f"{account.name}: {step.name}",
                    value,
                    today,
                    callback=Callback.STEP_SNOOZE_MODAL,
                    title="Snooze step",
                )
            if kind == "step_skip":
                return skip_modal(account.name, step.name, value)
            return owner_modal("step", account.name, value, current)
        pair = repo.plan_with_account(session, _plan_id(value))
        if pair is None:
            raise UserError("That plan no longer exists.")
        plan, account = pair
        if plan.status != "open":
            raise UserError(
                f"The plan for *{escape(account.name, single_line=True)}* is already closed."
            )
        if kind == "plan_reassign":
            return owner_modal(
                "plan", account.name, value, plan_cards.slack_id_of(session, plan.owner)
            )
        return outcome_modal(account.name, value, value.choice or "won", today)


def snoozed(deps: Deps, *, user_id: str) -> Reply:
    emails = deps.emails_for(user_id)
    with deps.factory() as session:
        items = services.snoozed_items(session, user_id=user_id, emails=emails)
    return snoozed_reply(items)


def stats(deps: Deps, *, user_id: str) -> Reply:
    local, emails = deps.local_now(user_id), deps.emails_for(user_id)
    with deps.factory() as session:
        mine, team = services.stats(session, emails=emails, today=local.date())
    return stats_reply(mine, team, local.date())


# --- logging a signal from Slack (issue 12) ------------------------------------------------


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
            account = repo.account_by_key(session, key)
            if account is not None and account.id is not None:
                return (account.id, account.name), "this channel is set to it"
            log.warning("slack.account_channels names %r, which is no account's key", key)
        account_id = repo.account_of_alert_message(session, channel=channel, ts=(ts, thread_ts))
        why = "the message is part of its alert"
        if account_id is None:
            only = repo.accounts_alerted_in(session, channel=channel, limit=2)
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
