"""Seed 002's Expansion Plan (``bot.domain.plan_document.PlanDocument``) as Markdown or as a
self-contained HTML page.

CRM text goes through ``bot.output.safe_text.markdown`` before it enters the Markdown, and the
HTML is that Markdown rendered and sanitized exactly like the playbook's
(``bot.output.report_html``): no scripts, no external resources, only the elements a plan uses.
"""

from __future__ import annotations

import markdown as md_lib

from bot.domain.plan_document import PlanDocument, Play, RenewalStrategy, Risk, Strength
from bot.output.report_html import html_page, sanitize
from bot.output.safe_text import markdown as _md
from scoring.evidence import fmt_date, fmt_money

STRENGTH_MARK = {Strength.STRONG: "🟢", Strength.MODERATE: "🟡"}
RISK_MARK = {Risk.LOW: "🟢 Low", Risk.MEDIUM: "🟡 Medium", Risk.HIGH: "🔴 High"}
_PLAN_KIND = {"renewal": "pre-renewal", "ninety_day": "90-day"}


def render_plan_md(doc: PlanDocument) -> str:
    """The whole plan, in seed 002's order: header, current state, signals, plays, renewal;
    seed 004's brief and ROI follow the plays."""
    renewal = fmt_date(doc.renewal_on) if doc.renewal_on else "not on record"
    out = [
        f"# Expansion Plan: {_md(doc.account)}",
        "",
        f"**CSM:** {_md(doc.csm)} | **AE:** {_md(doc.ae)}  ",
        f"**Current ARR:** {fmt_money(doc.arr)}  ",
        f"**Contract renewal:** {renewal}  ",
        f"**Expansion potential:** {fmt_money(doc.potential_arr)} | {doc.confidence}% confidence  ",
        f"**Readiness:** {doc.band} ({doc.score} points) as of {fmt_date(doc.as_of)}",
        "",
    ]
    if doc.holding_back:
        out += [f"**Holding back:** {_md(doc.holding_back)}", ""]
    out += ["---", "", "## Current State", "", "| Metric | Value |", "|---|---|"]
    out += [f"| {row.metric} | {_md(row.value)} |" for row in doc.state]
    out += ["", "## Expansion Signals Detected", ""]
    if doc.signals:
        out += [
            "🟢 strong · 🟡 moderate",
            "",
            "| Signal | Evidence | Opportunity |",
            "|---|---|---|",
        ]
        out += [
            f"| {STRENGTH_MARK[s.strength]} {s.signal} | {_md(s.evidence)} | {s.opportunity} |"
            for s in (*doc.strong, *doc.moderate)
        ]
    else:
        out.append("No expansion signals on record yet.")
    out += ["", "## Recommended Plays", ""]
    if doc.plays:
        for n, play in enumerate(doc.plays, 1):
            out += _play(n, play)
    else:
        out += ["No play to recommend yet: fix what is holding the account back first.", ""]
    out += _brief(doc)
    if doc.renewal is not None:
        out += ["---", "", *_renewal(doc.renewal)]
    out += ["### Renewal Conversation Guide", ""]
    out += [f"{n}. {_md(line)}" for n, line in enumerate(doc.guide, 1)]
    if doc.objections:
        out += ["", "### Objections to Expect", ""]
        out += [f'- "{_md(says)}" → {_md(answer)}' for says, answer in doc.objections]
    if doc.plan_kind is not None:
        label = _PLAN_KIND.get(doc.plan_kind, doc.plan_kind)
        out += ["", f"## The Open Plan ({label})", "", "| Due | Step | Owner | Status |"]
        out.append("|---|---|---|---|")
        out += [
            f"| {fmt_date(s.due_on)} | {_md(s.name)} | {s.owner} | {s.status} |"
            for s in doc.plan_steps
        ]
    return "\n".join(out).rstrip() + "\n"


def _play(n: int, play: Play) -> list[str]:
    lines = [
        f"### Play {n}: {play.title}",
        "",
        f"**What:** {play.offer}  ",
        f"**Why now:** {_md(play.trigger)}  ",
        f"**Value to them:** {play.value}  ",
        f"**Estimated ARR impact:** {fmt_money(play.arr)}  ",
        f"**Timing:** {_md(play.timing)}  ",
        f"**Owner:** {_md(play.owner)}  ",
        f"**Approach:** {_md(play.approach)}",
        "",
    ]
    if play.talk_track:
        lines += ["**Talk track:**", "", f"> {_md(play.talk_track)}", ""]
    return lines


def _brief(doc: PlanDocument) -> list[str]:
    """Seed 004's brief and ROI as two label/value tables; CRM words escaped."""
    lines = ["## Brief and ROI", "", "| Brief | Details |", "|---|---|"]
    lines += [f"| {label} | {_md(value)} |" for label, value in doc.brief.rows()]
    lines += ["", "| ROI | Details |", "|---|---|"]
    lines += [f"| {label} | {_md(value)} |" for label, value in doc.brief.roi.rows()]
    return [*lines, ""]


def _renewal(r: RenewalStrategy) -> list[str]:
    lines = [
        "## Renewal Strategy",
        "",
        f"**Renewal date:** {fmt_date(r.renewal_on)}  ",
        f"**Risk level:** {RISK_MARK[r.risk]}"
        + (f" ({_md('; '.join(r.risk_reasons))})" if r.risk_reasons else "")
        + "  ",
        f"**Expansion at renewal:** {r.expansion.value} — {_md(r.expand_with)}",
        "",
        "### Pre-Renewal Timeline",
        "",
    ]
    if not r.within_horizon:
        lines += [
            "The renewal is more than six months away: this timeline takes over from"
            f" {fmt_date(r.timeline_opens)}.",
            "",
        ]
    lines += ["| Weeks before | Action | Owner | Due | Status |", "|---|---|---|---|---|"]
    lines += [
        f"| {s.weeks_before} weeks | {_md(s.action)} | {s.owner} | {fmt_date(s.due_on)}"
        f" | {s.status} |"
        for s in r.timeline
    ]
    return [*lines, ""]


def render_plan_html(doc: PlanDocument) -> str:
    """The Markdown rendered, sanitized and wrapped in a page that needs nothing else."""
    body = sanitize(md_lib.markdown(render_plan_md(doc), extensions=["tables", "sane_lists"]))
    return html_page(f"Expansion plan — {doc.account} — {fmt_date(doc.as_of)}", body)
