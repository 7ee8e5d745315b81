"""The health gate, activation-before-expansion, the single offer and the opportunity score."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from scoring.config import Gate, OfferEconomics, ScoringConfig
from scoring.engine import assess
from scoring.facts import EventKind, Health
from scoring.gate import GateCode, health_gate, quarter_end
from scoring.offer import OfferType
from scoring.opportunity import estimate_expansion_arr, revenue_points
from tests.scoring.helpers import TODAY, account, event, snap

# An account that would be pitched: at capacity, a recent win, happy.
READY = {"seats_used": 90, "nps": 9}


def ready_account(**latest):
    return account(
        snap(60),
        snap(0, **{**READY, **latest}),
        events=(event(EventKind.OUTCOME, 10, "faster month-end close"),),
    )


def gate_codes(facts, today: date = TODAY, cfg: Gate | None = None) -> list[GateCode]:
    return [r.code for r in health_gate(facts, today, cfg or Gate()).reasons]


def test_healthy_account_passes_the_gate_and_gets_a_pitch() -> None:
    result = assess(ready_account(), TODAY)
    assert not result.gate.blocked and result.pitchable and result.script


@pytest.mark.parametrize(
    ("latest", "code", "fix_word"),
    [
        ({"open_urgent_tickets": 1}, GateCode.URGENT_TICKET, "resolved"),
        ({"health": Health.RED}, GateCode.RED_HEALTH, "Stabilise"),
        ({"last_contact_on": TODAY - timedelta(days=61)}, GateCode.NO_RECENT_CONTACT, "Reconnect"),
    ],
)
def test_each_gate_reason_blocks_the_pitch(latest, code, fix_word) -> None:
    result = assess(ready_account(**latest), TODAY)
    assert [r.code for r in result.gate.reasons] == [code]
    assert result.offer is None and result.script == "" and not result.pitchable
    assert fix_word in result.recommendation and result.recommendation.startswith("Fix first")


def test_contact_exactly_60_days_ago_is_still_fine() -> None:
    assert gate_codes(ready_account(last_contact_on=TODAY - timedelta(days=60))) == []


# An outcome long enough ago to earn no points: it only satisfies seed 004's gate.
OLD_WIN = event(EventKind.OUTCOME, 200, "first report automated")


def test_champion_gone_until_a_new_one_is_added() -> None:
    gone = account(snap(0), events=(OLD_WIN, event(EventKind.CHAMPION_LEFT, 10, "left")))
    assert gate_codes(gone) == [GateCode.CHAMPION_GONE]
    back = account(
        snap(0),
        events=(OLD_WIN, event(EventKind.CHAMPION_LEFT, 10), event(EventKind.CHAMPION_ADDED, 2)),
    )
    assert gate_codes(back) == []


def test_no_outcome_yet_holds_the_pitch_and_says_what_is_missing() -> None:
    """Seed 004: expansion only after at least one measurable outcome, at any time before."""
    at_capacity = (snap(60), snap(0, **READY))
    result = assess(account(*at_capacity), TODAY)
    assert [r.code for r in result.gate.reasons] == [GateCode.NO_OUTCOME]
    assert result.offer is None and not result.pitchable
    assert "no measurable outcome" in result.gate.reasons[0].evidence
    assert "first measurable result" in result.recommendation
    assert gate_codes(account(*at_capacity, events=(OLD_WIN,))) == []
    milestone = event(EventKind.MILESTONE, 300, "went live in every branch")
    assert gate_codes(account(*at_capacity, events=(milestone,))) == []
    promised = event(EventKind.OUTCOME, -5, "expected next week")  # not achieved yet
    assert gate_codes(account(*at_capacity, events=(promised,))) == [GateCode.NO_OUTCOME]
    assert gate_codes(account(*at_capacity), cfg=Gate(require_outcome=False)) == []


def test_last_days_of_our_fiscal_quarter_hold_every_pitch() -> None:
    assert quarter_end(date(2026, 11, 20), 1) == date(2026, 12, 31)
    assert quarter_end(date(2026, 11, 20), 2) == date(2027, 1, 31)
    assert quarter_end(date(2026, 1, 15), 2) == date(2026, 1, 31)
    late = date(2026, 12, 28)
    assert GateCode.QUARTER_END in gate_codes(ready_account(), late)
    assert GateCode.QUARTER_END not in gate_codes(ready_account(), date(2026, 12, 24))
    assert gate_codes(ready_account(), late, Gate(quarter_end_quiet_days=0)) == []


def test_several_reasons_fix_the_open_problem_first() -> None:
    facts = ready_account(open_urgent_tickets=2, last_contact_on=TODAY - timedelta(days=90))
    result = assess(facts, TODAY)
    assert [r.code for r in result.gate.reasons] == [
        GateCode.URGENT_TICKET,
        GateCode.NO_RECENT_CONTACT,
    ]
    assert "2 urgent support issues open" in result.gate.reasons[0].evidence


def test_low_adoption_means_enablement_not_upsell() -> None:
    result = assess(ready_account(features_used=3, features_available=20), TODAY)
    assert result.activation is not None and "3 of 20 features" in result.activation.evidence
    assert result.offer is None and result.recommendation.startswith("Activate first")


def test_low_adoption_with_an_initiative_gets_professional_services() -> None:
    facts = account(
        snap(60),
        snap(0, features_used=3, features_available=20, nps=9),
        events=(
            event(EventKind.INITIATIVE, 5, "a new region launch"),
            event(EventKind.OUTCOME, 5, "win"),
        ),
    )
    result = assess(facts, TODAY)
    assert result.offer is not None and result.offer.type is OfferType.PROFESSIONAL_SERVICES


def offer_for(facts) -> OfferType | None:
    result = assess(facts, TODAY)
    return result.offer.type if result.offer else None


def test_capacity_offer() -> None:
    assert offer_for(ready_account()) is OfferType.CAPACITY


def test_tier_upgrade_offer() -> None:
    facts = account(
        snap(60),
        snap(0, nps=9),
        events=(event(EventKind.FEATURE_REQUEST, 5, "SSO"), event(EventKind.OUTCOME, 5, "w")),
    )
    assert offer_for(facts) is OfferType.TIER_UPGRADE


def test_cross_sell_offer() -> None:
    facts = account(
        snap(60),
        snap(0, nps=9),
        events=(event(EventKind.INITIATIVE, 5, "new plant"), event(EventKind.OUTCOME, 5, "w")),
    )
    assert offer_for(facts) is OfferType.CROSS_SELL


def test_multi_year_offer_needs_a_happy_customer() -> None:
    renewal = TODAY + timedelta(days=80)
    happy = account(
        snap(60), snap(0, nps=9, renewal_on=renewal), events=(event(EventKind.OUTCOME, 5, "w"),)
    )
    assert offer_for(happy) is OfferType.MULTI_YEAR
    lukewarm = account(
        snap(60),
        snap(0, health=Health.YELLOW, renewal_on=renewal),
        events=(event(EventKind.OUTCOME, 5, "w"),),
    )
    assert offer_for(lukewarm) is None


def test_not_yet_band_gets_no_offer() -> None:
    facts = account(
        snap(60), snap(0, nps=9, renewal_on=TODAY + timedelta(days=80)), events=(OLD_WIN,)
    )
    result = assess(facts, TODAY)
    assert result.score == 12 and result.offer is not None  # Candidate: still worth planting
    small = account(snap(60), snap(0, renewal_on=TODAY + timedelta(days=80)), events=(OLD_WIN,))
    assert assess(small, TODAY).offer is None and assess(small, TODAY).recommendation.startswith(
        "Not yet"
    )


def test_capacity_expansion_arr_prices_extra_seats() -> None:
    latest = snap(0, seats_used=47, seats_purchased=50, arr=50_000.0)
    # 47 used → room for 20% more → 60 seats wanted → 10 extra at $1,000 each
    assert estimate_expansion_arr(OfferType.CAPACITY, latest, OfferEconomics()) == 10_000.0


@pytest.mark.parametrize(
    ("expansion", "current", "points"),
    [
        (24_000, 40_000, 9),
        (30_000, 40_000, 10),
        (10_000, 40_000, 7),
        (4_000, 40_000, 5),
        (2_000, 40_000, 3),
        (500, 40_000, 1),
        (30_000, 300_000, 6),
    ],
)
def test_revenue_points_follow_seed_table_with_absolute_bonus(expansion, current, points) -> None:
    assert revenue_points(expansion, current, OfferEconomics()) == points


def test_opportunity_is_scored_and_tiered() -> None:
    result = assess(ready_account(), TODAY, ScoringConfig())
    opp = result.opportunity
    assert opp is not None
    assert opp.score == round(opp.revenue * 0.4 + opp.effort * 0.3 + opp.likelihood * 0.3, 2)
    assert 1 <= opp.tier <= 5 and opp.expansion_arr > 0


def test_scripts_use_the_accounts_facts_and_objections_name_its_gap() -> None:
    result = assess(ready_account(), TODAY)
    assert "Acme" in result.script and "90 of 100 seats" in result.script
    assert len(result.objections) == 4
    assert "90 of 100 seats in use" in result.objections[3].answer


@pytest.mark.parametrize(
    ("healths", "held"),
    [
        ((Health.RED, Health.YELLOW, Health.YELLOW), False),  # came up from red: improving
        ((Health.GREEN, Health.YELLOW), True),  # slipped from green
        ((Health.YELLOW, Health.YELLOW), True),  # yellow as far back as we know
        ((Health.YELLOW,), True),
        ((Health.RED, None, Health.YELLOW), False),  # an unknown reading is skipped, not a change
        ((Health.YELLOW, Health.GREEN), False),  # green now
    ],
)
def test_yellow_holds_the_pitch_unless_it_is_coming_up_from_red(
    healths: tuple[Health | None, ...], held: bool
) -> None:
    history = [snap(30 * (len(healths) - 1 - n), health=h) for n, h in enumerate(healths)]
    facts = account(*history, events=(event(EventKind.OUTCOME, 5, "w"),))
    codes = gate_codes(facts)
    assert (GateCode.YELLOW_NOT_IMPROVING in codes) is held
    assert GateCode.YELLOW_NOT_IMPROVING not in gate_codes(
        facts, cfg=Gate(yellow_must_improve=False)
    )


def test_the_yellow_hold_says_since_when() -> None:
    facts = account(
        snap(60, health=Health.GREEN),
        snap(30, health=Health.YELLOW),
        snap(0, health=Health.YELLOW),
        events=(event(EventKind.OUTCOME, 5, "w"),),
    )
    (reason,) = health_gate(facts, TODAY, Gate()).reasons
    assert reason.evidence == "health is yellow and not improving (yellow since 21 Oct 2026)"


# --- the catalogue: seed 003's four offers beside seed 000's five --------------------------

WIN = event(EventKind.OUTCOME, 5, "month-end close in two days")
MODULES = ScoringConfig.model_validate({"offers": {"add_ons": {"audit log": "Compliance pack"}}})


def offer_with(facts, cfg: ScoringConfig | None = None) -> tuple[OfferType | None, str]:
    result = assess(facts, TODAY, cfg)
    return (result.offer.type, result.offer.reason) if result.offer else (None, "")


def test_more_departments_than_at_purchase_is_a_new_department() -> None:
    facts = account(snap(60, departments=2), snap(0, departments=4, nps=9), events=(WIN,))
    offer, reason = offer_with(facts)
    assert offer is OfferType.NEW_DEPARTMENT and "4 departments use it, up from 2" in reason
    at_capacity = account(
        snap(60, departments=2), snap(0, departments=4, seats_used=95), events=(WIN,)
    )
    assert offer_with(at_capacity)[0] is OfferType.CAPACITY  # the ceiling comes first


def test_a_competitor_in_use_is_a_displacement_ahead_of_a_request() -> None:
    facts = account(
        snap(60),
        snap(0, nps=9),
        events=(
            WIN,
            event(EventKind.COMPETITOR, 10, "a separate BI tool for dashboards"),
            event(EventKind.FEATURE_REQUEST, 5, "audit log export"),
        ),
    )
    offer, reason = offer_with(facts)
    assert offer is OfferType.DISPLACEMENT and "a separate BI tool for dashboards" in reason
    stale = account(
        snap(60),
        snap(0, nps=9),
        events=(WIN, event(EventKind.COMPETITOR, 200, "a separate BI tool")),
    )
    assert offer_with(stale)[0] is not OfferType.DISPLACEMENT  # 180 days, as a request


@pytest.mark.parametrize(
    ("asked", "cfg", "expected"),
    [
        ("Audit log for every export", MODULES, OfferType.ADD_ON),
        ("AUDIT LOG retention", MODULES, OfferType.ADD_ON),
        ("Custom approval roles", MODULES, OfferType.TIER_UPGRADE),
        ("Audit log for every export", None, OfferType.TIER_UPGRADE),  # no module named
    ],
)
def test_a_request_naming_a_module_is_an_add_on(
    asked: str, cfg: ScoringConfig | None, expected: OfferType
) -> None:
    facts = account(
        snap(60), snap(0, nps=9), events=(WIN, event(EventKind.FEATURE_REQUEST, 5, asked))
    )
    offer, reason = offer_with(facts, cfg)
    assert offer is expected
    if expected is OfferType.ADD_ON:
        assert reason.startswith("Compliance pack answers what they asked about")


def test_many_open_tickets_is_a_support_upgrade_after_the_product_offers() -> None:
    facts = account(snap(60), snap(0, nps=9, open_tickets=7), events=(WIN,))
    offer, reason = offer_with(facts)
    assert offer is OfferType.SUPPORT_UPGRADE and reason.startswith("7 support tickets open")
    few = account(snap(60), snap(0, nps=9, open_tickets=4), events=(WIN,))
    assert offer_with(few)[0] is not OfferType.SUPPORT_UPGRADE
    initiative = account(
        snap(60),
        snap(0, nps=9, open_tickets=7),
        events=(WIN, event(EventKind.INITIATIVE, 5, "a new region")),
    )
    assert offer_with(initiative)[0] is OfferType.CROSS_SELL


def test_every_offer_has_its_words_and_value() -> None:
    from scoring.offer import APPROACHES, CUSTOMER_VALUE, NEXT_STEPS, TALK_LINES
    from scoring.opportunity import estimate_expansion_arr

    latest = snap(0, arr=100_000.0)
    for offer in OfferType:
        assert offer.label and APPROACHES[offer] and NEXT_STEPS[offer] and TALK_LINES[offer]
        assert CUSTOMER_VALUE[offer]
        assert estimate_expansion_arr(offer, latest, OfferEconomics()) > 0
