"""A signal logged from Slack (issue 12): record the event, re-score the account as a poll
would, and say what changed — the score's move, the alert, or why nothing moved."""

from __future__ import annotations

from datetime import date, timedelta

from sqlmodel import Session

import db.audit
import db.facts
from bot.domain.portfolio import assess_account
from bot.infra.settings import AppConfig
from bot.poll.cycle import CycleResult, evaluate_many
from bot.slack import kinds
from bot.slack.errors import UserError
from bot.slack.model import LoggedSignal
from db.models import Account
from scoring.engine import Assessment
from scoring.evidence import fmt_date


def log_signal(
    session: Session,
    *,
    account_id: int,
    kind: str,
    on: date,
    detail: str,
    key: str,
    user_id: str,
    permalink: str | None,
    config: AppConfig,
    today: date,
) -> LoggedSignal:
    """Record the event (once per ``key``) and re-score the account at once, the way a poll
    does (``evaluate_many``: episodes, alerts and their outbox rows, in this transaction).
    Scored before and after on the same ``today``, so the difference is the event's alone."""
    account = session.get(Account, account_id)
    if account is None:
        raise UserError("That account no longer exists.")
    what = kinds.kind_of(kind)
    if what is None:
        raise UserError(f"Pick one of: {kinds.in_plain_words()}.")
    before = assess_account(session, account, today, config).assessment
    added = db.facts.add_event(
        session,
        account_id=account_id,
        kind=kind,
        on=on,
        detail=detail,
        key=key,
        source=kinds.SOURCE,
        logged_by=user_id,
        permalink=permalink,
    )
    if not added:  # logged before (or by someone else a moment ago): say so, change nothing
        first = db.facts.event_by_key(session, account_id=account_id, key=key)
        return LoggedSignal(
            account=account.name,
            kind=first.kind if first else kind,
            on=first.on if first else on,
            before_score=before.score,
            before_band=before.band.value,
            after_score=before.score,
            after_band=before.band.value,
            duplicate=True,
            logged_by=first.logged_by if first else None,
            permalink=(first.permalink if first else None) or permalink,
        )
    result = CycleResult()
    after = evaluate_many(session, [account_id], today, config, result)[account_id]
    db.audit.audit(
        session,
        user_id=user_id,
        action="signal.log",
        target_type="account",
        target_id=account_id,
        kind=kind,
        on=on.isoformat(),
        key=key,
        permalink=permalink,
        score=[before.score, after.score],
    )
    alert_id, alert = _alert_change(result)
    return LoggedSignal(
        account=account.name,
        kind=kind,
        on=on,
        before_score=before.score,
        before_band=before.band.value,
        after_score=after.score,
        after_band=after.band.value,
        permalink=permalink,
        alert_id=alert_id,
        alert=alert,
        held_back=after.gate.fix_first if after.gate.blocked and not before.gate.blocked else None,
        why_unchanged=_why_unchanged(what, on, before, config, today)
        if after.score == before.score
        else None,
    )


def _alert_change(result: CycleResult) -> tuple[int | None, str | None]:
    for ids, what in (
        (result.new_alerts, "opened"),
        (result.digest_alerts, "digest"),
        (result.cleared_alerts, "cleared"),
        (result.updated_alerts, "updated"),
    ):
        if ids:
            return ids[0], what
    return None, None


def _why_unchanged(
    what: kinds.LogKind, on: date, before: Assessment, config: AppConfig, today: date
) -> str | None:
    """Why a logged signal left the score where it was, when a rule says so: too old to
    count, or the account already had that signal's points."""
    days = kinds.window_days(what, config.scoring)
    if what.signal is None or days is None:
        return None
    if on < today - timedelta(days=days):
        return f"{what.label} counts for {days} days, and this one is from {fmt_date(on)}."
    earned = next((s for s in before.signals if s.key is what.signal), None)
    if earned is not None:
        return f"It already had those points: {earned.evidence}."
    return None
