"""Between a listener and the services: one transaction per interaction, then blocks.

Listeners stay a few lines (ack, call a flow, answer); flows know the session, the user's
timezone and which message to refresh, and never touch Bolt.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import date, datetime

from slack_sdk import WebClient
from slack_sdk.models.views import View
from sqlmodel import Session

from bot.settings import AppConfig, Settings
from bot.slack import blocks, services
from bot.slack.errors import UserError
from bot.slack.model import ActionValue, Card, Reply
from bot.slack.mrkdwn import escape
from bot.slack.parse import parse
from bot.slack.routing import Router
from bot.slack.search import AccountSearch
from bot.slack.sender import Sender
from bot.timezones import zone
from bot.when import WhenError, parse_when
from db import repo
from db.engine import SessionFactory, transaction
from db.models import Account, Alert, utcnow


@dataclass
class Deps:
    """Everything a listener needs, put in Bolt's context by a middleware."""

    settings: Settings
    config: AppConfig
    factory: SessionFactory
    client: WebClient
    router: Router
    sender: Sender
    search: AccountSearch
    team_id: str | None
    clock: Callable[[], datetime] = utcnow

    def local_now(self, session: Session, user_id: str) -> datetime:
        """Now on the user's clock (their Slack timezone)."""
        now = self.clock()
        tz = self.router.user_tz(session, user_id, now=now)
        return now.astimezone(zone(tz, self.config.slack.quiet_hours.default_tz))


# --- /expansion ----------------------------------------------------------------------------


def expansion(deps: Deps, *, user_id: str, text: str) -> Reply:
    """Answer ``/expansion <text>``; anything unreadable gets the help text."""
    cmd = parse(text)
    if cmd.verb == "help":
        return blocks.help_reply(cmd.problem)
    with transaction(deps.factory) as session:
        local = deps.local_now(session, user_id)
        if cmd.verb in ("top", "mine"):
            return _book_reply(deps, session, user_id, cmd.verb, cmd.n, local.date())
        found = _resolve(deps, session, cmd.query)
        if not isinstance(found, Account):
            return found
        if cmd.verb == "card":
            card = services.account_card(
                session, account=found, config=deps.config, today=local.date()
            )
            return blocks.card_reply(card)
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
    return replace(blocks.message_reply(reply_text), refresh_alert=_id(alert))


def _resolve(deps: Deps, session: Session, query: str) -> Account | Reply:
    result = deps.search.find(query)
    if len(result.matches) == 1:
        account = session.get(Account, result.matches[0][0])
        if account is not None:
            return account
    if len(result.matches) > 1:
        return blocks.pick_list(query, [(i, name, domain) for i, _, name, domain in result.matches])
    return blocks.no_match(query, result.suggestions)


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
    except WhenError as exc:
        raise UserError(str(exc)) from None


def _book_reply(
    deps: Deps, session: Session, user_id: str, verb: str, n: int | None, today: date
) -> Reply:
    emails = deps.router.emails_for(session, user_id, now=deps.clock())
    if verb == "mine":
        rows = services.book(session, user_id=user_id, emails=emails)
        items = [services.list_item(a, acc) for a, acc in rows]
        return blocks.list_reply(
            "Your open alerts", items, "You have no open alerts. `/expansion top` shows the book."
        )
    limit = n or deps.config.slack.top_default
    rows = services.book(session, user_id=user_id, emails=emails, limit=limit)
    if rows:
        items = [services.list_item(a, acc) for a, acc in rows]
        return blocks.list_reply(f"Your top {len(items)} accounts", items, "")
    everyone = repo.top_open_alerts(session, limit=limit)
    items = [services.list_item(a, acc) for a, acc in everyone]
    return blocks.list_reply(
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
    return blocks.plan_reply(
        account.name, plan.kind, created, [(s.due_on, s.name, s.status) for s in steps]
    )


# --- buttons and modals ------------------------------------------------------------------


def account_card(deps: Deps, *, user_id: str, account_id: int) -> Reply:
    with deps.factory() as session:
        account = session.get(Account, account_id)
        if account is None:
            raise UserError("That account no longer exists.")
        local = deps.local_now(session, user_id)
        card = services.account_card(
            session, account=account, config=deps.config, today=local.date()
        )
        session.commit()  # the timezone lookup may have cached the user
    return blocks.card_reply(card)


def refreshed(deps: Deps, alert_id: int) -> Card:
    """The alert's card as it is now (to redraw an ephemeral copy)."""
    with deps.factory() as session:
        found = repo.alert_and_account(session, alert_id)
        if found is None:
            raise UserError("That alert no longer exists.")
        alert, account = found
        return services.alert_card(session, alert=alert, account=account, today=deps.clock().date())


def _alert_id(value: ActionValue) -> int:
    if value.alert is None:
        raise UserError("This button is not tied to an alert any more.")
    return value.alert


def acknowledge(deps: Deps, *, user_id: str, value: ActionValue) -> Card:
    alert_id = _alert_id(value)
    with transaction(deps.factory) as session:
        services.acknowledge(session, alert_id=alert_id, user_id=user_id, now=deps.clock())
    deps.sender.flush(alert_id)
    return refreshed(deps, alert_id)


def snooze(deps: Deps, *, user_id: str, value: ActionValue, when: str) -> Card:
    """``when``: 1d, 1w, 2w or an ISO date (from the modal)."""
    alert_id = _alert_id(value)
    with transaction(deps.factory) as session:
        found = repo.alert_and_account(session, alert_id)
        if found is None:
            raise UserError("That alert no longer exists.")
        local = deps.local_now(session, user_id)
        until = _when(session, when, local, found[1])
        services.snooze(session, alert_id=alert_id, user_id=user_id, until=until, now=deps.clock())
    deps.sender.flush(alert_id)
    return refreshed(deps, alert_id)


def snooze_date_error(
    deps: Deps, *, user_id: str, value: ActionValue, day: str | None
) -> str | None:
    """What is wrong with the date picked in the modal, if anything."""
    if not day:
        return "Pick a date."
    with deps.factory() as session:
        local = deps.local_now(session, user_id)
    try:
        parse_when(day, now_local=local)
    except WhenError as exc:
        return str(exc)[:150]
    return None


def dismiss(deps: Deps, *, user_id: str, value: ActionValue, reason: str, note: str | None) -> Card:
    alert_id = _alert_id(value)
    with transaction(deps.factory) as session:
        services.dismiss(
            session, alert_id=alert_id, user_id=user_id, reason=reason, note=note, now=deps.clock()
        )
    deps.sender.flush(alert_id)
    return refreshed(deps, alert_id)


def start_plan(deps: Deps, *, user_id: str, value: ActionValue) -> Reply:
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
        local = deps.local_now(session, user_id)
        reply = _start_plan(deps, session, user_id, account, value.alert, local)
    if value.alert is not None:
        deps.sender.flush(value.alert)
    return reply


def reassign(deps: Deps, *, user_id: str, value: ActionValue, new_owner: str) -> Card:
    alert_id = _alert_id(value)
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
    """The snooze-date, not-now or reassign modal for this alert."""
    alert_id = _alert_id(value)
    with deps.factory() as session:
        found = repo.alert_and_account(session, alert_id)
        if found is None:
            raise UserError("That alert no longer exists.")
        alert, account = found
        services_open = alert.status in ("open", "acknowledged", "snoozed")
        if not services_open:
            raise UserError(f"The alert for *{escape(account.name, single_line=True)}* is closed.")
        today = deps.local_now(session, user_id).date()
    if kind == "snooze":
        return blocks.snooze_modal(account.name, value, today)
    if kind == "not_now":
        return blocks.not_now_modal(account.name, value)
    return blocks.reassign_modal(account.name, value, alert.owner_slack_id)


# --- App Home ----------------------------------------------------------------------------


def home(deps: Deps, *, user_id: str) -> View:
    with transaction(deps.factory) as session:
        local = deps.local_now(session, user_id)
        emails = deps.router.emails_for(session, user_id, now=deps.clock())
        data = services.home_data(session, user_id=user_id, emails=emails, today=local.date())
    return blocks.home_view(data)
