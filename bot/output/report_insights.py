"""The playbook's portfolio-wide parts (seed 003): blockers by kind, the six recommendations
for leadership, and the CSM and AE hours the pursuit takes."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence

from bot.domain.portfolio import Scored
from bot.output.safe_text import markdown
from scoring.evidence import SignalKey, fmt_money, plural
from scoring.gate import GateCode
from scoring.offer import OfferType
from scoring.opportunity import Tier, hours_to_close

_RELATIONSHIP = {GateCode.CHAMPION_GONE, GateCode.NO_RECENT_CONTACT}


def _arr(r: Scored) -> float:
    return r.assessment.opportunity.expansion_arr if r.assessment.opportunity else 0.0


def _names(rows: Sequence[Scored], most: int = 4) -> str:
    shown = ", ".join(markdown(r.account.name) for r in rows[:most])
    return shown + (f" and {len(rows) - most} more" if len(rows) > most else "")


def hours(opps: Sequence[Scored]) -> tuple[int, int]:
    """CSM and AE hours to pursue these opportunities, from their effort scores."""
    csm = ae = 0
    for r in opps:
        if r.assessment.opportunity is not None:
            c, a = hours_to_close(r.assessment.opportunity.effort)
            csm, ae = csm + c, ae + a
    return csm, ae


def of_tier(opps: Sequence[Scored], *tiers: Tier) -> list[Scored]:
    return [r for r in opps if r.assessment.opportunity and r.assessment.opportunity.tier in tiers]


def blockers(rows: Sequence[Scored]) -> list[str]:
    """What keeps expansion back, by kind; a kind our data cannot show says so."""
    requests = [
        r for r in rows if any(s.key is SignalKey.FEATURE_REQUEST for s in r.assessment.signals)
    ]
    activation = [r for r in rows if r.assessment.activation]
    relationship = [
        r for r in rows if any(g.code in _RELATIONSHIP for g in r.assessment.gate.reasons)
    ]
    holds = Counter(
        g.code for r in rows for g in r.assessment.gate.reasons if g.code not in _RELATIONSHIP
    )
    lines = []
    if requests:
        asked = "; ".join(
            markdown(s.evidence)
            for r in requests[:4]
            for s in r.assessment.signals
            if s.key is SignalKey.FEATURE_REQUEST
        )
        lines.append(
            f"- **Product gaps**: {plural(len(requests), 'account')}"
            f" ({fmt_money(sum(r.arr for r in requests))} ARR) asked for what their plan lacks:"
            f" {asked}."
        )
    else:
        lines.append("- **Product gaps**: no feature requests on record.")
    lines.append(
        "- **Pricing friction**: not measurable from the data we read (no price per tier);"
        " close lost plans with the reason *price* to see it here."
    )
    if activation:
        lines.append(
            f"- **Enablement gaps**: {_names(activation)} use too little of what they own to be"
            " offered more."
        )
    else:
        lines.append("- **Enablement gaps**: every account uses enough of what it owns.")
    if relationship:
        lines.append(
            f"- **Relationship gaps**: {_names(relationship)}: the champion left or nobody has"
            " spoken to them in over 60 days."
        )
    else:
        lines.append("- **Relationship gaps**: none; every champion is in place and in touch.")
    lines.append("- **Competitive locks**: none recorded; we do not read competitor mentions yet.")
    for code, n in holds.most_common():
        lines.append(f"- **Held back ({code.value.replace('_', ' ')})**: {plural(n, 'account')}.")
    return lines


def recommendations(rows: Sequence[Scored], opps: Sequence[Scored]) -> list[str]:
    """Seed 003's six areas, each from this portfolio's numbers."""
    t1, t12 = of_tier(opps, Tier.TIER_1), of_tier(opps, Tier.TIER_1, Tier.TIER_2)
    bets = sorted(
        (r for r in opps if r.assessment.opportunity and r.assessment.opportunity.effort <= 5),
        key=lambda r: -_arr(r),
    )
    requests = [
        r for r in rows if any(s.key is SignalKey.FEATURE_REQUEST for s in r.assessment.signals)
    ]
    tier_ups = [
        r for r in opps if r.assessment.offer and r.assessment.offer.type is OfferType.TIER_UPGRADE
    ]
    activation = [r for r in rows if r.assessment.activation]
    csm, ae = hours(t12)
    owners = {r.account.owner_name for r in t12 if r.account.owner_name}
    per_owner = (
        f", about {csm / len(owners):.0f} CSM hours each across {plural(len(owners), 'owner')}"
        if owners
        else ""
    )
    return [
        f"1. **Quick wins**: {plural(len(t1), 'Tier 1 opportunity', 'Tier 1 opportunities')}"
        f" worth {fmt_money(sum(map(_arr, t1)))} can start this week.",
        "2. **Strategic bets**: "
        + (
            f"{_names(bets, 3)}: {fmt_money(sum(map(_arr, bets[:3])))} that needs a longer cycle"
            " (proposal, executive buy-in) but pays off most."
            if bets
            else "none; every opportunity is a short cycle."
        ),
        f"3. **Product feedback**: {plural(len(requests), 'account')} asked for what their plan"
        f" lacks ({fmt_money(sum(r.arr for r in requests))} ARR waiting on it); review the"
        " requests with product.",
        "4. **Pricing**: "
        + (
            f"{plural(len(tier_ups), 'account')} would move up a tier; check the step up is not"
            " steep enough to stall them."
            if tier_ups
            else "nothing in the data points at pricing; no tier upgrades are in play."
        ),
        f"5. **Enablement**: {plural(len(activation), 'account')} would benefit from an adoption"
        " programme before any upsell.",
        f"6. **Resources**: Tier 1 and 2 take about {plural(csm, 'CSM hour')} and"
        f" {plural(ae, 'AE hour')}{per_owner}.",
    ]
