"""Read-side services over the whole book: assess accounts as of a day."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from sqlmodel import Session

import db.accounts
import db.facts
from bot.infra.settings import AppConfig
from db.models import Account
from scoring.engine import Assessment, assess
from scoring.facts import AccountFacts


@dataclass(frozen=True)
class Scored:
    account: Account
    assessment: Assessment
    arr: float
    facts: AccountFacts


def assess_account(session: Session, account: Account, today: date, config: AppConfig) -> Scored:
    facts = db.facts.load_facts(session, account)
    latest = facts.latest
    arr = (latest.arr or 0.0) if latest else 0.0
    return Scored(account, assess(facts, today, config.scoring), arr, facts)


def assess_portfolio(session: Session, today: date, config: AppConfig) -> list[Scored]:
    """Every account, ranked: pitchable first, then by score, then by opportunity."""
    out = [assess_account(session, a, today, config) for a in db.accounts.all_accounts(session)]
    out.sort(key=rank_key)
    return out


def rank_key(s: Scored) -> tuple[bool, int, float, str]:
    a = s.assessment
    opp = a.opportunity.score if a.opportunity else 0.0
    return (not a.pitchable, -a.score, -opp, s.account.name)
