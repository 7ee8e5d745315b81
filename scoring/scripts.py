"""Talk tracks: an opening built from the trigger (why now) and the offer (what we suggest),
and answers to the four common objections.

Written in our own words. Each sentence is filled with the account's facts, so a CSM reads
something about *their* customer, not a form letter; the ask always argues for the offer the
card recommends. Output is plain text; the Slack layer
escapes it for mrkdwn.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from string import Template

from scoring.evidence import fmt_date, possessive
from scoring.offer import Offer, OfferType
from scoring.triggers import Episode, TriggerKind


def _why_now(trigger: Episode, company: str, today: date, renewal_on: date | None) -> str:
    """The first sentence: the moment that makes today the day to call, in full sentences
    whether or not the event that caused it came with words of its own."""
    detail = trigger.detail
    match trigger.kind:
        case TriggerKind.SUCCESS:
            if detail:
                return f"congratulations on the result your team reported: {detail}."
            return f"congratulations on the result your team reported on {fmt_date(trigger.on)}."
        case TriggerKind.CAPACITY:
            return f"I was looking at {possessive(company)} usage: {trigger.evidence}."
        case TriggerKind.TEAM_GROWTH:
            return f"{company} is growing: {trigger.evidence}."
        case TriggerKind.RENEWAL:
            renews = renewal_on or trigger.on
            days = (renews - today).days
            when = f"{days} days from now" if days > 1 else "very soon"
            return (
                f"your renewal is on {fmt_date(renews)}, {when}, and I'd like to plan it with"
                " you early rather than in a rush."
            )
        case TriggerKind.ONBOARDING:
            done = f" ({detail})" if detail else f" as of {fmt_date(trigger.on)}"
            return f"onboarding is complete{done}. Nice work getting the team there."
        case TriggerKind.INITIATIVE:
            if detail:
                return f"you mentioned some new work on the way: {detail}."
            return "you mentioned a new initiative on the way."
        case TriggerKind.FEATURE_REQUEST:
            if detail:
                return f"you asked about {detail}."
            return "you asked about something your current plan does not include."


def _ask(offer: Offer, led: TriggerKind | None, company: str) -> str:
    """The rest: what we suggest, always the recommended offer, citing the signal it rests on
    when the opening sentence (led by ``led``) was about something else."""
    match offer.type:
        case OfferType.CAPACITY:
            if led is TriggerKind.CAPACITY:
                lead = "I'd rather raise it now than after it starts slowing your team down."
            elif led is TriggerKind.TEAM_GROWTH:
                lead = (
                    "More people usually means more load on what you bought, so I want to make"
                    " sure the current setup still fits."
                )
            else:
                lead = (
                    f"I also noticed {offer.basis}, so it may be time to make sure you have room"
                    " to grow."
                )
            return f"{lead} Shall we look at the options together?"
        case OfferType.TIER_UPGRADE:
            if led is TriggerKind.FEATURE_REQUEST:
                lead = "That is part of the next plan up."
            else:
                lead = f"You also {offer.basis}, which is part of the next plan up."
            return (
                f"{lead} From how {company} works today, I think a 20-minute look at whether the"
                " step up pays for itself is worth it."
            )
        case OfferType.CROSS_SELL:
            if led is TriggerKind.INITIATIVE:
                lead = "We help other teams with exactly that kind of work."
            else:
                lead = f"You also mentioned {offer.basis}; we help teams with that kind of work."
            return f"{lead} Would a short look at how we could support it be useful?"
        case OfferType.PROFESSIONAL_SERVICES:
            return (
                "A few guided sessions with our services team could get more of what you already"
                " have working for it, faster than going it alone. Shall I set one up?"
            )
        case OfferType.MULTI_YEAR:
            lead = (
                "Things are going well, so I'd also like to talk about a multi-year term that"
                " spares you the yearly scramble."
            )
            if led is not TriggerKind.RENEWAL:
                lead = (
                    f"Your renewal is coming up ({offer.basis}), and with things going well a"
                    " multi-year term could spare you the yearly scramble."
                )
            return f"{lead} Could we find 30 minutes in the next couple of weeks?"


# Without a trigger, the offer's own evidence opens, as the matching trigger would have.
_LED_BY = {
    OfferType.CAPACITY: TriggerKind.CAPACITY,
    OfferType.TIER_UPGRADE: TriggerKind.FEATURE_REQUEST,
    OfferType.CROSS_SELL: TriggerKind.INITIATIVE,
    OfferType.MULTI_YEAR: TriggerKind.RENEWAL,
}

_UNPROMPTED = {
    OfferType.CAPACITY: "I was looking at {company} usage and noticed {basis}.",
    OfferType.TIER_UPGRADE: "I was looking back at our notes: you {basis}.",
    OfferType.CROSS_SELL: "I was looking back at our notes and saw {basis}.",
    OfferType.PROFESSIONAL_SERVICES: "I was looking at what is coming up for the team: {basis}.",
    OfferType.MULTI_YEAR: "I was looking at {company} account ahead of the renewal.",
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
        "We need to see more value from what we already have first.",
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
    company: str,
    contact: str | None,
    trigger: Episode | None,
    offer: Offer | None,
    *,
    today: date,
    renewal_on: date | None = None,
) -> str:
    """The talk track: why now (the most recent trigger), then the recommended offer.

    The offer leads the ask, so the script never argues for something other than what the
    card recommends; without a trigger, the offer's own evidence opens."""
    if offer is None:
        return ""
    hello = f"Hi {contact or 'there'} — "
    if trigger is not None:
        first = _why_now(trigger, company, today, renewal_on)
    else:
        first = _UNPROMPTED[offer.type].format(company=possessive(company), basis=offer.basis)
    led = trigger.kind if trigger is not None else _LED_BY.get(offer.type)
    return hello + first + " " + _ask(offer, led, company)


def objection_answers(gap: str) -> list[Objection]:
    """The four answers, the last one pointing at this account's own gap or ceiling."""
    return [
        Objection(o.says, Template(o.answer).safe_substitute(gap=gap or "running out of room"))
        for o in OBJECTIONS
    ]
