"""Every opening template with each of its variants reads as finished sentences.

The scripts are built from a trigger (why now) and an offer (what we suggest). Each pairing is
generated here with and without an event's own words, with and without a contact, and with a
company name that ends in s, and the text is checked the way a careful reader would: no
fragment like "you asked about Asked for…", no "Foods's", no doubled figures, and an ask that
argues for the offer the card recommends.
"""

from __future__ import annotations

import re
from datetime import date, timedelta

from hypothesis import given
from hypothesis import strategies as st

from scoring.evidence import plural
from scoring.offer import Offer, OfferType
from scoring.scripts import objection_answers, opening_script
from scoring.triggers import Episode, TriggerKind

TODAY = date(2026, 12, 2)

# The phrase each offer's ask must carry, so a script can never argue for another offer.
ASKS = {
    OfferType.CAPACITY: "look at the options",
    OfferType.TIER_UPGRADE: "next plan up",
    OfferType.CROSS_SELL: "support it",
    OfferType.PROFESSIONAL_SERVICES: "services team",
    OfferType.MULTI_YEAR: "multi-year term",
}

BASIS = {
    OfferType.CAPACITY: "44 of 50 seats in use (88%) on 2 Dec 2026",
    OfferType.TIER_UPGRADE: "asked about audit logs (20 Nov 2026)",
    OfferType.CROSS_SELL: "a new billing programme (20 Nov 2026)",
    OfferType.PROFESSIONAL_SERVICES: "a warehouse migration (20 Nov 2026)",
    OfferType.MULTI_YEAR: "renews 2 Mar 2027, 90 days away, $50,000 ARR",
}

EVIDENCE = {
    TriggerKind.CAPACITY: "44 of 50 seats in use (88%), up from 41 on 2 Nov 2026",
    TriggerKind.TEAM_GROWTH: "260 employees, up from 225 on 3 Oct 2026 (+16%)",
    TriggerKind.RENEWAL: "renewal on 2 Mar 2027 is 90 days away",
}

details = st.sampled_from(["", "cut reporting time by 40%", "SSO with audit logs"])
companies = st.sampled_from(["Acme", "Verdant Foods", "BrightOps Agency", "Kestrel Media"])
contacts = st.sampled_from([None, "Ana", "Noor"])


def episode(kind: TriggerKind, detail: str) -> Episode:
    evidence = EVIDENCE.get(kind) or detail or kind.label
    event_words = "" if kind in EVIDENCE else detail
    return Episode("acme", kind, TODAY - timedelta(days=3), evidence, f"acme:{kind}", event_words)


def sentences(text: str) -> list[str]:
    return [s for s in re.split(r"(?<=[.?!])\s+", text) if s]


def assert_reads_well(text: str) -> None:
    assert "  " not in text and ".." not in text and " ." not in text and " ," not in text
    assert "$" not in text.replace("$50,000", ""), "no unfilled template field"
    assert "'s's" not in text and "s's " not in text, "possessive of a name ending in s"
    # An event's label never stands where its own words would ("you asked about Asked for").
    for label in (k.label for k in TriggerKind):
        assert label not in text, f"a trigger label inside a sentence: {label!r}"
    assert not re.search(r"\((\d+%)\)[^.]*\(\1\)", text), "the same figure twice in a row"
    assert text.startswith("Hi ") and " — " in text
    for s in sentences(text.split(" — ", 1)[1])[1:]:
        assert s[0].isupper(), f"a sentence that starts mid-thought: {s!r}"
    assert text.rstrip().endswith(("?", ".")), "ends as a sentence"


@given(
    kind=st.sampled_from(list(TriggerKind)),
    offer=st.sampled_from(list(OfferType)),
    detail=details,
    company=companies,
    contact=contacts,
)
def test_every_trigger_and_offer_pairing_reads_as_sentences(
    kind: TriggerKind, offer: OfferType, detail: str, company: str, contact: str | None
) -> None:
    script = opening_script(
        company,
        contact,
        episode(kind, detail),
        Offer(offer, "why", BASIS[offer]),
        today=TODAY,
        renewal_on=date(2027, 3, 2),
    )
    assert_reads_well(script)
    assert script.startswith(f"Hi {contact or 'there'} — ")
    assert ASKS[offer] in script, "the ask argues for the recommended offer"
    if detail and kind not in EVIDENCE:
        assert detail in script, "an event's own words are quoted"


@given(offer=st.sampled_from(list(OfferType)), company=companies, contact=contacts)
def test_without_a_trigger_the_offer_opens_and_is_not_said_twice(
    offer: OfferType, company: str, contact: str | None
) -> None:
    script = opening_script(company, contact, None, Offer(offer, "why", BASIS[offer]), today=TODAY)
    assert_reads_well(script)
    assert ASKS[offer] in script
    assert script.count(BASIS[offer]) <= 1


def test_the_renewal_opening_is_a_whole_sentence_with_today_s_distance() -> None:
    script = opening_script(
        "Quillsoft",
        "Ana",
        episode(TriggerKind.RENEWAL, ""),
        Offer(OfferType.MULTI_YEAR, "why", BASIS[OfferType.MULTI_YEAR]),
        today=date(2026, 12, 2),
        renewal_on=date(2027, 2, 15),
    )
    assert script.startswith("Hi Ana — your renewal is on 15 Feb 2027, 75 days from now,")


def test_no_offer_no_script() -> None:
    assert opening_script("Acme", "Ana", episode(TriggerKind.CAPACITY, ""), None, today=TODAY) == ""


def test_objections_say_what_the_seed_means() -> None:
    answers = objection_answers("44 of 50 seats in use (88%)")
    assert "We need to see more value from what we already have first." in [o.says for o in answers]
    assert "44 of 50 seats in use (88%)" in answers[3].answer


@given(n=st.integers(min_value=0, max_value=10_000))
def test_plural_agrees_with_its_count(n: int) -> None:
    text = plural(n, "account")
    assert text == (f"{n:,} account" if n == 1 else f"{n:,} accounts")
    assert plural(n, "opportunity", "opportunities").endswith(
        "opportunity" if n == 1 else "opportunities"
    )
