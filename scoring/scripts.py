"""Talk tracks: one opening per trigger type and answers to the four common objections.

Written in our own words. Each is a template filled with the account's facts, so a CSM reads
something about *their* customer, not a form letter. Output is plain text; the Slack layer
escapes it for mrkdwn.
"""

from __future__ import annotations

from dataclasses import dataclass
from string import Template

from scoring.offer import Offer, OfferType
from scoring.triggers import Episode, TriggerKind

_OPENINGS: dict[TriggerKind, str] = {
    TriggerKind.SUCCESS: (
        "Hi $contact — congratulations on $evidence. That is the result we set out to reach"
        " together. It got me thinking about what teams like yours usually tackle once the"
        " basics are paying off. Could we take 20 minutes so I can show you what that could"
        " look like for $company?"
    ),
    TriggerKind.CAPACITY: (
        "Hi $contact — I was reviewing $company's account and saw $evidence. I'd rather raise"
        " it now than after it starts slowing your team down. Shall we look at the options"
        " together? Most teams at this point take a simple route."
    ),
    TriggerKind.TEAM_GROWTH: (
        "Hi $contact — it looks like the team is growing ($evidence). More people usually means"
        " more pressure on the work we support, so I wanted to check the current setup still"
        " fits where $company is heading."
    ),
    TriggerKind.RENEWAL: (
        "Hi $contact — $evidence, and I'd like to plan it with you early rather than in a"
        " rush. I also have a few ideas for next year based on how your team uses the product."
        " Could we find 30 minutes in the next couple of weeks?"
    ),
    TriggerKind.ONBOARDING: (
        "Hi $contact — onboarding is done ($evidence), nice work getting the team there. Now is"
        " a good moment to agree what success looks like for the next six months, and whether"
        " anything else would help $company get there sooner."
    ),
    TriggerKind.INITIATIVE: (
        "Hi $contact — you mentioned $evidence. We help other teams with exactly that kind of"
        " project, and I held off until the core rollout was working well. Now that it is,"
        " would a short look at how it could support the new work be useful?"
    ),
    TriggerKind.FEATURE_REQUEST: (
        "Hi $contact — you asked about $evidence. That is part of the next plan up, and from"
        " how $company uses the product today I think it's worth a 20-minute look at whether"
        " the step up pays for itself."
    ),
}

_BY_OFFER: dict[OfferType, TriggerKind] = {
    OfferType.CAPACITY: TriggerKind.CAPACITY,
    OfferType.TIER_UPGRADE: TriggerKind.FEATURE_REQUEST,
    OfferType.CROSS_SELL: TriggerKind.INITIATIVE,
    OfferType.PROFESSIONAL_SERVICES: TriggerKind.INITIATIVE,
    OfferType.MULTI_YEAR: TriggerKind.RENEWAL,
}


@dataclass(frozen=True)
class Objection:
    says: str
    answer: str


OBJECTIONS: tuple[Objection, ...] = (
    Objection(
        "We're not ready to expand right now.",
        "Fair enough. What would tell you it's the right time — a result you're waiting on, a"
        " budget date, something inside the team? Then I can come back when it actually helps.",
    ),
    Objection(
        "We'd need to get budget approved.",
        "Understood. Who else would weigh in? I'm happy to write up the business case with"
        " your numbers so it's easier to take upstairs.",
    ),
    Objection(
        "We need to get more value from what we already have first.",
        "That's the right instinct. Which result would show you that? Let's make that our"
        " shared goal, and pick this up again once you've seen it.",
    ),
    Objection(
        "We're happy with what we have.",
        "Glad to hear it, and I'm not out to change what works. One thing I've seen catch teams"
        " like yours out is $gap. Is that something you're watching?",
    ),
)


def opening_script(
    company: str, contact: str | None, trigger: Episode | None, offer: Offer | None
) -> str:
    """The talk track for the most recent trigger; without one, the offer picks the angle."""
    kind = trigger.kind if trigger is not None else (_BY_OFFER[offer.type] if offer else None)
    if kind is None:
        return ""
    evidence = trigger.evidence if trigger is not None else (offer.reason if offer else "")
    return Template(_OPENINGS[kind]).safe_substitute(
        contact=contact or "there", company=company, evidence=evidence
    )


def objection_answers(gap: str) -> list[Objection]:
    """The four answers, the last one pointing at this account's own gap or ceiling."""
    return [
        Objection(o.says, Template(o.answer).safe_substitute(gap=gap or "running out of room"))
        for o in OBJECTIONS
    ]
