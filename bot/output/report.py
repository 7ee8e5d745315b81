"""The expansion playbook (seed 003's shape) as Markdown, built from the live database."""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable
from datetime import date, timedelta

from bot.domain.portfolio import Scored
from bot.output.report_insights import blockers, hours, of_tier, recommendations
from bot.output.safe_text import markdown
from scoring.bands import Band
from scoring.evidence import SignalKey, fmt_date, fmt_money, plural
from scoring.facts import Health
from scoring.offer import APPROACHES
from scoring.opportunity import ACT_WITHIN_DAYS, REVISIT_DAYS, Tier
from scoring.plans import plan_steps

_TIMELINE = {
    Band.PRIORITY: "This month",
    Band.READY: "This quarter",
    Band.CANDIDATE: "Next quarter",
    Band.NOT_YET: "6+ months",
}
_REVENUE_BANDS = (
    ("$100K+", 100_000),
    ("$50K–$99K", 50_000),
    ("$25K–$49K", 25_000),
    ("$10K–$24K", 10_000),
    ("Under $10K", 0),
)


def _md(text: str) -> str:
    """CRM text as inert Markdown: no tables broken, no heading, formatting, link or raw HTML
    (see ``bot.output.safe_text.markdown``)."""
    return markdown(text)


def _opportunities(rows: Iterable[Scored]) -> list[Scored]:
    opps = [r for r in rows if r.assessment.pitchable and r.assessment.opportunity]
    return sorted(opps, key=lambda r: -_oscore(r))


def _oscore(r: Scored) -> float:
    return r.assessment.opportunity.score if r.assessment.opportunity else 0.0


def _arr(r: Scored) -> float:
    return r.assessment.opportunity.expansion_arr if r.assessment.opportunity else 0.0


def _revenue_band(arr: float) -> str:
    return next(label for label, floor in _REVENUE_BANDS if arr >= floor)


def render_playbook(rows: list[Scored], today: date, portfolio: str = "All accounts") -> str:
    opps = _opportunities(rows)
    by_tier: dict[Tier, list[Scored]] = defaultdict(list)
    for r in opps:
        by_tier[r.assessment.opportunity.tier].append(r)  # type: ignore[union-attr]
    total_arr = sum(r.arr for r in rows)
    total_exp = sum(_arr(r) for r in opps)
    t1, t2 = by_tier[Tier.TIER_1], by_tier[Tier.TIER_2]
    out: list[str] = [
        "# Expansion Revenue Playbook",
        "",
        f"Generated: {fmt_date(today)}  ",
        f"Portfolio: {portfolio}  ",
        f"Accounts analysed: {len(rows)}  ",
        f"Current portfolio ARR: {fmt_money(total_arr)}  ",
        f"Total expansion ARR identified: {fmt_money(total_exp)}  ",
        f"Tier 1 opportunities: {len(t1)} worth {fmt_money(sum(map(_arr, t1)))}  ",
        f"Tier 2 opportunities: {len(t2)} worth {fmt_money(sum(map(_arr, t2)))}",
        "",
        "---",
        "",
        "## Executive Summary",
        "",
        *_summary(rows, opps, total_exp),
        "",
        "---",
        "",
        "Tiers rank the opportunity (its revenue, effort and likelihood); bands rank how ready"
        " the account is to talk. A Priority account with a small opportunity can sit in Tier 2:"
        " talk to it this week, and expect a smaller deal.",
        "",
        "## Tier 1 Opportunities — Pursue Immediately",
        "",
    ]
    out += [line for r in t1 for line in _tier1_block(r)] or ["None this time.", ""]
    out += ["---", "", "## Tier 2 Opportunities — Pursue This Quarter", ""]
    out += [line for r in t2 for line in _tier2_block(r)] or ["None this time.", ""]
    out += ["---", "", "## Tier 3 Opportunities — Nurture", ""]
    out += _later_table(by_tier[Tier.TIER_3], today, Tier.TIER_3)
    out += ["---", "", "## Tier 4 Opportunities — Monitor", ""]
    out += _later_table(by_tier[Tier.TIER_4], today, Tier.TIER_4)
    out += ["---", "", "## Tier 5 Opportunities — Deprioritise", ""]
    out += _later_table(by_tier[Tier.TIER_5], today, Tier.TIER_5)
    out += ["---", "", "## Activation Opportunities", ""]
    out += _activation(rows)
    out += ["---", "", "## Account-by-Account Summary", ""]
    out += [line for r in rows for line in _account_block(r)]
    out += ["---", "", "## Opportunity Distribution Analysis", ""]
    out += _distributions(rows, opps)
    out += ["---", "", "## Portfolio-Wide Insights", ""]
    out += _insights(rows, opps)
    out += ["---", "", "## Scoring Appendix", "", *_appendix(), ""]
    out += ["### Data Confidence Notes", "", *_confidence(rows)]
    return "\n".join(out).rstrip() + "\n"


def _summary(rows: list[Scored], opps: list[Scored], total: float) -> list[str]:
    if not opps:
        return [
            "No account is ready for an expansion conversation today across"
            f" {plural(len(rows), 'account')}."
        ]
    types = Counter(r.assessment.offer.type.label for r in opps if r.assessment.offer)
    top = max(opps, key=_arr)
    best = opps[0]
    gated = [r for r in rows if r.assessment.gate.blocked]
    mix = ", ".join(f"{label} ({n})" for label, n in types.most_common())
    return [
        f"{len(opps)} of {plural(len(rows), 'account')} {'has' if len(opps) == 1 else 'have'} an"
        " expansion play worth"
        f" {fmt_money(total)} in new ARR. By type: {mix}.",
        "",
        f"The largest is {_md(top.account.name)} at about {fmt_money(_arr(top))}. The single"
        f" most important action this week: {_md(best.account.name)}"
        f" ({best.assessment.offer.type.label.lower() if best.assessment.offer else 'review'}),"
        f" owned by {_md(best.account.owner_name or 'unassigned')}.",
        "",
        f"{plural(len(gated), 'account')} {'is' if len(gated) == 1 else 'are'} held back by"
        f" health or timing and {'needs' if len(gated) == 1 else 'need'} fixing before any"
        " pitch; they are listed below with what to fix first.",
        "",
        _resources(opps),
    ]


def _tier1_block(r: Scored) -> list[str]:
    a = r.assessment
    o, offer = a.opportunity, a.offer
    assert o is not None and offer is not None
    lines = [
        f"### {_md(r.account.name)} — {offer.type.label}",
        "",
        f"**Score: {o.score:.1f}/10** | Revenue: {o.revenue}/10 | Effort: {o.effort}/10"
        f" | Likelihood: {o.likelihood}/10",
        "",
        "| Field | Detail |",
        "|---|---|",
        f"| Account | {_md(r.account.name)} |",
        f"| Current ARR | {fmt_money(r.arr)} |",
        f"| Opportunity type | {offer.type.label} |",
        f"| Approach | {APPROACHES[offer.type]} |",
        f"| Estimated expansion ARR | {fmt_money(o.expansion_arr)} |",
        "| Best timing | Now: this week |",
        f"| Readiness | {a.band.label}, {a.pace} (score {a.score}) |",
        f"| Owner | {_md(r.account.owner_name or 'unassigned')} |",
        f"| Deadline to act | {fmt_date(a.today + timedelta(days=ACT_WITHIN_DAYS[Tier.TIER_1]))} |",
        "",
        f"**The opportunity:** {_md(offer.reason)}.",
        "",
        "**Evidence:**",
        "",
        *[f"- {_md(s.evidence)}" for s in a.signals],
        "",
        "**Recommended pitch:**",
        "",
        f"> {_md(a.script)}",
        "",
        "Key points to hit:",
        "",
        *_key_points(r),
        "",
        "**Approach:**",
        "",
        *_approach(r),
        "",
        "**Objections to expect:**",
        "",
        *[f'- "{_md(x.says)}" → {_md(x.answer)}' for x in a.objections],
        "",
        "**Risk:**",
        "",
        *[f"- {risk}" for risk in _risks(r)],
        "",
    ]
    return lines


def _approach(r: Scored) -> list[str]:
    """The plan the CSM would start today, as dated steps."""
    a, owner = r.assessment, _md(r.account.owner_name or "the owner")
    latest = r.facts.latest
    _, all_steps = plan_steps(a.today, latest.renewal_on if latest else None)
    steps = [s for s in all_steps if not s.conditional]
    return [
        f"{n}. {s.name} — {s.role if s.role != 'CSM' else owner}, by {fmt_date(s.due_on)}"
        for n, s in enumerate(steps, 1)
    ]


def _risks(r: Scored) -> list[str]:
    latest = r.facts.latest
    out = []
    if latest is not None and latest.health is Health.YELLOW:
        out.append("Health is yellow: confirm nothing is brewing before the proposal.")
    if (
        latest is not None
        and latest.nps is None
        and not any(s.key is SignalKey.ADVOCACY for s in r.assessment.signals)
    ):
        out.append("No recent NPS or praise on record: sentiment is a guess.")
    if r.arr >= 100_000:
        out.append("Large account: expect procurement and several stakeholders.")
    if (
        latest is not None
        and latest.renewal_on
        and (latest.renewal_on - r.assessment.today).days > 180
    ):
        out.append("Renewal is far off: budget may not exist until the next cycle.")
    return out or ["Low: strong signals and a healthy relationship."]


def _tier2_block(r: Scored) -> list[str]:
    a = r.assessment
    o, offer = a.opportunity, a.offer
    assert o is not None and offer is not None
    key_signal = a.trigger.evidence if a.trigger else (a.signals[0].evidence if a.signals else "")
    return [
        f"### {_md(r.account.name)} — {offer.type.label}",
        f"- **Score**: {o.score:.1f}/10",
        f"- **Expansion ARR**: {fmt_money(o.expansion_arr)}",
        f"- **Type**: {offer.type.label}",
        f"- **Timing**: this quarter; reach out by"
        f" {fmt_date(a.today + timedelta(days=ACT_WITHIN_DAYS[Tier.TIER_2]))}",
        f"- **Readiness**: {a.band.label}, {a.pace} (score {a.score})",
        f"- **Key signal**: {_md(key_signal)}",
        f"- **Next step**: {_md(a.next_step)}",
        "",
    ]


def _later_table(rows: list[Scored], today: date, tier: Tier) -> list[str]:
    """Tiers 3 to 5: one line each, with when to look again (Tier 5: not at all)."""
    if not rows:
        return ["None this time.", ""]
    revisit = REVISIT_DAYS.get(tier)
    lines = [
        "| Account | Opportunity | Type | Est. ARR | Score | Key signal | Revisit |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        a = r.assessment
        o, offer = a.opportunity, a.offer
        assert o is not None and offer is not None
        signal = a.signals[0].evidence if a.signals else ""
        when = fmt_date(today + timedelta(days=revisit)) if revisit else "not planned"
        lines.append(
            f"| {_md(r.account.name)} | {_md(offer.reason)} | {offer.type.label}"
            f" | {fmt_money(o.expansion_arr)} | {o.score:.1f} | {_md(signal)} | {when} |"
        )
    return [*lines, ""]


def _resources(opps: list[Scored]) -> str:
    t1 = of_tier(opps, Tier.TIER_1)
    csm, ae = hours(t1)
    if not t1:
        return "No Tier 1 opportunity this time, so no hours are committed this week."
    return (
        f"Pursuing the Tier 1 {'opportunity' if len(t1) == 1 else 'opportunities'} takes about"
        f" {plural(csm, 'CSM hour')} and {plural(ae, 'AE hour')} (from each one's effort score)."
    )


def _key_points(r: Scored) -> list[str]:
    """Three points for the call: their need, its size in their own numbers, and the proof."""
    a = r.assessment
    by_key = {s.key: s.evidence for s in a.signals}
    need = a.offer.basis if a.offer and a.offer.basis else (a.trigger.evidence if a.trigger else "")
    size = next(
        (
            by_key[k]
            for k in (SignalKey.CAPACITY, SignalKey.TEAM_EXPANDED, SignalKey.COMPANY_GROWTH)
            if k in by_key and by_key[k] != need
        ),
        None,
    )
    proof = by_key.get(SignalKey.POSITIVE_OUTCOME) or by_key.get(SignalKey.ADVOCACY)
    points = [f"1. Their need: {_md(need)}."]
    if size:
        points.append(f"2. How big it is, in their numbers: {_md(size)}.")
    if proof:
        points.append(f"{len(points) + 1}. Proof from their own results: {_md(proof)}.")
    return points


def _activation(rows: list[Scored]) -> list[str]:
    found = [r for r in rows if r.assessment.activation is not None]
    if not found:
        return ["No account is under-using what it already owns.", ""]
    lines = ["Enablement, not upsell: these accounts are not yet using what they own.", ""]
    for r in found:
        act = r.assessment.activation
        assert act is not None
        lines.append(f"- **{_md(r.account.name)}**: {_md(act.evidence)}. {_md(act.recommendation)}")
    return [*lines, ""]


def _readiness(r: Scored) -> str:
    a = r.assessment
    if a.pitchable and a.band in (Band.PRIORITY, Band.READY):
        return "Ready now"
    if a.pitchable:
        return "Needs nurturing"
    return "Not ready"


def _health(r: Scored) -> str:
    a = r.assessment
    if a.gate.blocked:
        return (
            "At risk"
            if any(g.code.value == "red_health" for g in a.gate.reasons)
            else ("Needs attention")
        )
    return "Healthy"


def _account_block(r: Scored) -> list[str]:
    a = r.assessment
    lines = [
        f"### {_md(r.account.name)}",
        f"- **Current ARR**: {fmt_money(r.arr)}",
        f"- **Readiness score**: {a.score} ({a.band.label})",
        f"- **Total expansion potential**: {fmt_money(_arr(r) if a.pitchable else 0)}",
        f"- **Opportunities found**: {1 if a.pitchable else 0}",
        f"- **Account health**: {_health(r)}",
        f"- **Expansion readiness**: {_readiness(r)}",
    ]
    if a.pitchable and a.offer:
        lines.append(f"- **Top opportunity**: {a.offer.type.label} — {_md(a.offer.reason)}")
    else:
        lines.append(f"- **Why no opportunity**: {_md(_why_not(r))}")
        lines.append(f"- **What would unlock expansion**: {_md(a.recommendation)}")
    return [*lines, ""]


def _why_not(r: Scored) -> str:
    a = r.assessment
    if a.gate.blocked:
        return "health issues must be resolved first: " + "; ".join(
            g.evidence for g in a.gate.reasons
        )
    if a.activation:
        return "under-using what they own: " + a.activation.evidence
    if not a.signals:
        return "no expansion signals yet"
    if a.band is Band.NOT_YET:
        return f"a score of {a.score} is below the Candidate band: too early to raise expansion"
    return "its signals do not point to any one offer yet"


def _distributions(rows: list[Scored], opps: list[Scored]) -> list[str]:
    lines = ["### By Type", "", "| Opportunity type | Count | Total est. ARR | Avg. score |"]
    lines.append("|---|---|---|---|")
    by_type: dict[str, list[Scored]] = defaultdict(list)
    for r in opps:
        if r.assessment.offer:
            by_type[r.assessment.offer.type.label].append(r)
    for label, group in sorted(by_type.items(), key=lambda kv: -sum(map(_arr, kv[1]))):
        avg = sum(map(_oscore, group)) / len(group)
        lines.append(f"| {label} | {len(group)} | {fmt_money(sum(map(_arr, group)))} | {avg:.1f} |")
    lines += ["", "### By Revenue Band", "", "| Band | Count | Total est. ARR |", "|---|---|---|"]
    for label, _ in _REVENUE_BANDS:
        group = [r for r in opps if _revenue_band(_arr(r)) == label]
        lines.append(f"| {label} | {len(group)} | {fmt_money(sum(map(_arr, group)))} |")
    lines += ["", "### By Timeline", "", "| Timing | Count | Total est. ARR |", "|---|---|---|"]
    for band, label in _TIMELINE.items():
        group = [r for r in opps if r.assessment.band is band]
        lines.append(f"| {label} | {len(group)} | {fmt_money(sum(map(_arr, group)))} |")
    lines += ["", "### By Readiness Band", "", "| Band | Accounts | Current ARR |", "|---|---|---|"]
    for band in Band:
        group = [r for r in rows if r.assessment.band is band]
        lines.append(f"| {band.label} | {len(group)} | {fmt_money(sum(r.arr for r in group))} |")
    total = sum(map(_arr, opps))
    lines += [
        "",
        f"**Totals:** {plural(len(opps), 'opportunity', 'opportunities')},"
        f" {fmt_money(total)} expansion ARR.",
        "",
    ]
    return lines


def _appendix() -> list[str]:
    return [
        "Readiness score (points): usage at 80%+ of capacity 12; win reported in the last 90 days"
        " 10; more teams or people using it since purchase 8; asked for features they lack 8;"
        " NPS 8+ or praise in the last 60 days 7; renewal 60–120 days out 5; new initiative"
        " that fits another offering 5; several people on one paid seat 5; company grew since"
        " purchase 4.",
        "",
        "Bands: 35+ Priority (this week), 20–34 Ready (next 30 days), 10–19 Candidate (plant"
        " seeds, ask in 60–90 days), below 10 Not yet.",
        "",
        "Opportunity score = revenue × 0.40 + effort × 0.30 + likelihood × 0.30, each 1–10."
        " Tiers: 8.0–10 Tier 1, 6.0–7.9 Tier 2, 4.0–5.9 Tier 3, 2.0–3.9 Tier 4, below 2 Tier 5.",
        "",
        "Hours to close, CSM and AE, by effort score: 9–10 1 and 0; 7–8 3 and 1; 5–6 6 and 6;"
        " 3–4 10 and 12; 1–2 16 and 24 (our estimates of seed 003's effort scale).",
        "",
        "No pitch while an urgent issue is open, health is red, the champion has left, there"
        " has been no contact for over 60 days, or in the last days of our fiscal quarter.",
    ]


def _insights(rows: list[Scored], opps: list[Scored]) -> list[str]:
    by_type: dict[str, list[Scored]] = defaultdict(list)
    for r in opps:
        if r.assessment.offer:
            by_type[r.assessment.offer.type.label].append(r)
    lines = ["### Patterns", ""]
    if by_type:
        common, group = max(by_type.items(), key=lambda kv: len(kv[1]))
        best, best_group = max(
            by_type.items(), key=lambda kv: sum(map(_oscore, kv[1])) / len(kv[1])
        )
        avg = sum(map(_oscore, best_group)) / len(best_group)
        lines += [
            f"- **Most common expansion type**: {common} ({plural(len(group), 'account')}).",
            f"- **Highest-scoring play**: {best} (average opportunity score {avg:.1f}).",
        ]
    activation = [r for r in rows if r.assessment.activation]
    lines.append(
        f"- **Under-used product**: {plural(len(activation), 'account')}"
        f" {'uses' if len(activation) == 1 else 'use'} less than the adoption"
        " threshold of what they own."
    )
    segments: dict[str, list[Scored]] = defaultdict(list)
    for r in opps:
        segments[r.account.segment or "Unsegmented"].append(r)
    if segments:
        seg, group = max(segments.items(), key=lambda kv: sum(map(_arr, kv[1])))
        lines.append(
            f"- **Segment trend**: {_md(seg)} holds the most expansion ARR"
            f" ({fmt_money(sum(map(_arr, group)))} across {plural(len(group), 'account')})."
        )
    lines += ["", "### Blockers to Expansion", "", *blockers(rows)]
    lines += ["", "### Recommendations for Leadership", "", *recommendations(rows, opps), ""]
    return lines


def _confidence(rows: list[Scored]) -> list[str]:
    lines = []
    for r in rows:
        gaps = []
        latest = r.facts.latest
        if latest is None:
            gaps.append("no snapshots")
        else:
            if latest.capacity() is None:
                gaps.append("no seat or usage-limit data")
            if latest.renewal_on is None:
                gaps.append("no renewal date")
            if latest.last_contact_on is None:
                gaps.append("no last-contact date")
            if latest.health is None:
                gaps.append("no health score")
        if len(r.facts.history) < 2:
            gaps.append("a single snapshot, so no growth can be measured")
        if gaps:
            lines.append(f"- {_md(r.account.name)}: " + "; ".join(gaps) + ".")
    return lines or ["Every account had seat or usage data, a renewal date, health and history."]
