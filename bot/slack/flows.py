"""Between a listener and the services: one transaction per interaction, then blocks.

Listeners stay a few lines (ack, call a flow, answer); flows know the session, the user's
timezone and which message to refresh, and never touch Bolt.
"""

from __future__ import annotations

import logging
from dataclasses import replace
from datetime import datetime

from slack_sdk.models.views import View
from sqlmodel import Session

import db.alerts
import db.facts
import db.plans
from bot.alerts import AlertSummary
from bot.domain.when import WhenError, parse_when
from bot.slack import admin, log_flows, services
from bot.slack.blocks.base import message_reply
from bot.slack.blocks.cards import card_reply
from bot.slack.blocks.digests import snoozed_reply, stats_reply
from bot.slack.blocks.home import home_view
from bot.slack.blocks.modals import (
    not_now_modal,
    objections_modal,
    reassign_modal,
    snooze_modal,
)
from bot.slack.blocks.replies import (
    help_reply,
    list_reply,
    no_match,
    pick_list,
)
from bot.slack.blocks.steps import plan_reply
from bot.slack.deps import Deps
from bot.slack.errors import UserError
from bot.slack.model import STALE, ActionValue, Card, Reply
from bot.slack.mrkdwn import escape
from bot.slack.parse import parse
from db.engine import transaction
from db.models import OPEN_ALERT_STATUSES, Account, Alert
from scoring.evidence import SignalKey, plural
from scoring.scripts import objection_answers

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
        return log_flows.log_typed(deps, user_id=user_id, cmd=cmd)
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
            alert = db.alerts.open_alert(session, found.id) if found.id else None
            return replace(reply, refresh_alert=alert.id if alert else None)
        alert = _open_alert(session, found)
        if cmd.verb == "ack":
            services.acknowledge(session, alert_id=_id(alert), user_id=user_id, now=deps.clock())
            reply_text = f"Acknowledged *{escape(found.name, single_line=True)}*. Good luck!"
        else:
            until = until_from(session, cmd.when, local, found)
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
    alert = db.alerts.open_alert(session, account.id)
    if alert is None:
        raise UserError(
            f"*{escape(account.name, single_line=True)}* has no open alert."
            f" See its card with `/expansion {escape(account.key)}`."
        )
    return alert


def _id(alert: Alert) -> int:
    assert alert.id is not None
    return alert.id


def until_from(session: Session, text: str, local: datetime, account: Account) -> datetime:
    assert account.id is not None
    snap = db.facts.latest_snapshot(session, account.id)
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
        return list_reply(f"Your top {plural(len(items), 'account')}", items, "")
    everyone = db.alerts.top_open_alerts(session, limit=limit)
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
    started = services.start_plan(
        session,
        account_id=account.id,
        alert_id=alert_id,
        user_id=user_id,
        config=deps.config,
        today=local.date(),
        now=deps.clock(),
    )
    plan, created, steps = started.plan, started.created, started.steps
    return plan_reply(
        account.name,
        plan.kind,
        created,
        [(s.due_on, s.name, s.status, s.role) for s in steps],
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
        found = db.alerts.alert_and_account(session, alert_id)
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
        found = db.alerts.alert_and_account(session, alert_id)
        if found is None:
            raise UserError("That alert no longer exists.")
        until = until_from(session, when, local, found[1])
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


def account_of(session: Session, value: ActionValue) -> Account:
    """The account a button is about: named, or through its alert or its plan."""
    account_id = value.account
    if account_id is None and value.alert is not None:
        found = db.alerts.alert_and_account(session, value.alert)
        account_id = found[1].id if found else None
    if account_id is None and value.plan is not None:
        with_account = db.plans.plan_with_account(session, value.plan)
        account_id = with_account[1].id if with_account else None
    if account_id is None:
        raise UserError("This button is not tied to an account any more.")
    account = session.get(Account, account_id)
    if account is None:
        raise UserError("That account no longer exists.")
    return account


def start_plan(deps: Deps, *, user_id: str, value: ActionValue) -> Reply:
    local = deps.local_now(user_id)
    with transaction(deps.factory) as session:
        account = account_of(session, value)
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
    """The snooze-date, not-now, reassign or objections modal for this alert (before views.open: no
    Slack lookup)."""
    alert_id = _alert_id(value, deps)
    today = deps.known_now(user_id, read_cache=True).date()
    with deps.factory() as session:
        found = db.alerts.alert_and_account(session, alert_id)
        if found is None:
            raise UserError("That alert no longer exists.")
        alert, account = found
        services_open = alert.status in OPEN_ALERT_STATUSES
        if not services_open:
            raise UserError(f"The alert for *{escape(account.name, single_line=True)}* is closed.")
        if kind == "reassign":  # say no before the picker opens, not after
            services.may_reassign(alert, user_id=user_id, config=deps.config)
    if kind == "snooze":
        return snooze_modal(account.name, value, today)
    if kind == "not_now":
        return not_now_modal(account.name, value)
    if kind == "objections":
        summary = AlertSummary.from_json(alert.summary)
        gap = next((s.evidence for s in summary.signals if s.key == SignalKey.CAPACITY), "")
        return objections_modal(account.name, objection_answers(gap))
    return reassign_modal(account.name, value, alert.owner_slack_id)


# --- App Home ----------------------------------------------------------------------------


def home(deps: Deps, *, user_id: str) -> View:
    local = deps.local_now(user_id)
    emails = deps.emails_for(user_id)
    with transaction(deps.factory) as session:
        data = services.home_data(session, user_id=user_id, emails=emails, today=local.date())
    return home_view(data)


# --- feedback, what is waiting, outcome metrics -------------------------------------------


def feedback(deps: Deps, *, user_id: str, value: ActionValue, vote: str) -> Card:
    alert_id = _alert_id(value, deps)
    with transaction(deps.factory) as session:
        services.record_feedback(
            session, alert_id=alert_id, user_id=user_id, value=vote, now=deps.clock()
        )
    deps.sender.flush(alert_id)
    return refreshed(deps, alert_id)


def snoozed(deps: Deps, *, user_id: str) -> Reply:
    emails = deps.emails_for(user_id)
    with deps.factory() as session:
        items = services.snoozed_items(session, user_id=user_id, emails=emails)
    return snoozed_reply(items)


def stats(deps: Deps, *, user_id: str) -> Reply:
    local, emails = deps.local_now(user_id), deps.emails_for(user_id)
    with deps.factory() as session:
        mine, team = services.stats(session, emails=emails, today=local.date())
        shadow = services.shadow_lines(session, deps.config, now=deps.clock(), days=365)
    return stats_reply(mine, team, local.date(), shadow=shadow)
