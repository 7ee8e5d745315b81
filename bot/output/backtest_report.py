"""A backtest (``bot.domain.backtest``) as Markdown, or as a self-contained HTML page with the
weekly volumes drawn as an inline SVG chart.

Account names are CRM text: escaped into inert Markdown (``bot.output.safe_text.markdown``), and
the HTML made from it is sanitized by the playbook's nh3 cleaner
(``bot.output.report_html.sanitize``) and framed by its ``html_page``. The chart is ours (dates
and numbers only) and goes in after the sanitizer, which would not keep SVG.
"""

from __future__ import annotations

from datetime import date

import markdown as md

from bot.domain.backtest_model import AlertDiff, Backtest, ConfigRun, StoredFate
from bot.output.report_html import html_page, sanitize
from bot.output.safe_text import markdown as inert
from scoring.bands import Band
from scoring.evidence import fmt_date, plural
from scoring.outcomes import Rate
from scoring.triggers import trigger_label

_LIVE_COLOUR, _CANDIDATE_COLOUR = "#6b7280", "#2563eb"


def _band(value: str) -> str:
    try:
        return Band(value).label
    except ValueError:
        return value


def _rate(rate: Rate | None) -> str:
    if rate is None or rate.value is None:
        return "—"
    return f"{rate.value * 100:.0f}% ({rate.hits}/{rate.total})"


def _fate(diff: AlertDiff) -> str:
    fate: StoredFate | None = diff.fate
    if fate is None:
        return "not raised live: no votes, no plan"
    if diff.fate_is_nearest:
        return f"live alert of {fmt_date(fate.day)}: {fate.words}"
    return fate.words


def _points(diff: AlertDiff) -> str:
    changes = ", ".join(f"{p.signal} {p.live} → {p.candidate}" for p in diff.points)
    score = f"score {diff.live_score} → {diff.candidate_score}"
    if diff.live_band != diff.candidate_band:
        score += f" ({_band(diff.live_band)} → {_band(diff.candidate_band)})"
    return f"{score}; {changes}" if changes else score


def _diff_table(diffs: list[AlertDiff], other: str) -> list[str]:
    if not diffs:
        return ["None.", ""]
    lines = [
        f"| Account | Day | Trigger | Band | Points (live → candidate) | Why {other} raised"
        " nothing | How it fared |",
        "|---|---|---|---|---|---|---|",
    ]
    for d in diffs:
        a = d.alert
        lines.append(
            f"| {inert(a.name)} | {fmt_date(a.day)} | {trigger_label(a.trigger)} | "
            f"{_band(a.band)} ({a.score}) | {inert(_points(d))} | {inert(d.why)} | "
            f"{inert(_fate(d))} |"
        )
    return [*lines, ""]


def _keys(*maps: dict[str, Rate]) -> list[str]:
    return sorted({k for m in maps for k in m})


def _busiest(run: ConfigRun) -> str:
    b = run.busiest
    if b is None:
        return "no channel alerts"
    line = f"{inert(b.channel)} on {fmt_date(b.day)}: {plural(b.alerts, 'alert')} (cap {b.cap})"
    if b.over:
        line += f", {b.over} held back an hour or more"
    return line


def render_backtest(result: Backtest, *, candidate_name: str = "candidate") -> str:
    """The backtest as Markdown."""
    live, cand = result.live, result.candidate
    lines = [
        f"# Backtest: {inert(candidate_name)} against the live config",
        "",
        f"{fmt_date(result.start)} to {fmt_date(result.end)}, "
        f"{plural(result.accounts, 'account')} replayed day by day "
        f"({result.assessments:,} assessments).",
        "",
        "## Summary",
        "",
        "| | Live | Candidate |",
        "|---|---|---|",
        f"| Alerts | {len(live.alerts)} | {len(cand.alerts)} |",
        f"| Added by the candidate | | {len(result.added)} |",
        f"| Removed by the candidate | | {len(result.removed)} |",
        f"| Same day, other band, score or channel | | {result.changed} |",
        f"| Busiest hour | {_busiest(live)} | {_busiest(cand)} |",
        f"| Channel bursts over the hourly cap | {live.hours_over_cap} | {cand.hours_over_cap} |",
        "",
        "## Alerts per week",
        "",
        "| Week of | Live | Candidate |",
        "|---|---|---|",
    ]
    for week in sorted({*live.weekly, *cand.weekly}):
        lines.append(
            f"| {fmt_date(week)} | {live.weekly.get(week, 0)} | {cand.weekly.get(week, 0)} |"
        )
    lines += ["", "## Alerts per channel", "", "| Channel | Live | Candidate |", "|---|---|---|"]
    for channel in sorted({*live.by_channel, *cand.by_channel}):
        lines.append(
            f"| {inert(channel)} | {live.by_channel.get(channel, 0)} |"
            f" {cand.by_channel.get(channel, 0)} |"
        )
    lines += ["", "## Alerts the candidate adds", ""]
    lines += _diff_table(result.added, "live")
    lines += ["## Alerts the candidate removes", ""]
    lines += _diff_table(result.removed, "the candidate")
    lines += [
        "## Precision",
        "",
        "Useful votes over all votes, on the alerts each config raises that the live bot"
        " actually raised and people voted on; won over closed plans the same way.",
        "",
        "| Trigger | Useful (live) | Useful (candidate) | Won (live) | Won (candidate) |",
        "|---|---|---|---|---|",
    ]
    for key in _keys(
        live.precision_by_trigger,
        cand.precision_by_trigger,
        live.won_by_trigger,
        cand.won_by_trigger,
    ):
        lines.append(
            f"| {trigger_label(key)} | {_rate(live.precision_by_trigger.get(key))} |"
            f" {_rate(cand.precision_by_trigger.get(key))} |"
            f" {_rate(live.won_by_trigger.get(key))} | {_rate(cand.won_by_trigger.get(key))} |"
        )
    lines += ["", "| Band | Useful (live) | Useful (candidate) |", "|---|---|---|"]
    for key in _keys(live.precision_by_band, cand.precision_by_band):
        lines.append(
            f"| {_band(key)} | {_rate(live.precision_by_band.get(key))} |"
            f" {_rate(cand.precision_by_band.get(key))} |"
        )
    lines += [
        "",
        "How the replay works: every account is scored as of each day with the stored facts"
        " dated up to that day, by the same engine and alert policy the poll uses; an alert"
        " people dismissed or closed ends when they did. See docs/backtest.md.",
        "",
    ]
    return "\n".join(lines)


def weekly_chart(result: Backtest) -> str:
    """Weekly alert volumes of both configs as grouped bars, in inline SVG with a title."""
    weeks: list[date] = sorted({*result.live.weekly, *result.candidate.weekly})
    top = max([*result.live.weekly.values(), *result.candidate.weekly.values(), 1])
    bar, gap, height, left = 6, 4, 220, 40
    width = left + max(1, len(weeks)) * (2 * bar + gap) + 20
    parts = [
        f'<svg role="img" aria-labelledby="weekly-title" width="{width}" height="{height + 40}"'
        ' xmlns="http://www.w3.org/2000/svg">',
        '<title id="weekly-title">Alerts per week, live and candidate</title>',
        f'<line x1="{left}" y1="{height}" x2="{width}" y2="{height}" stroke="#9ca3af"/>',
        f'<text x="0" y="14" font-size="12">{top}</text>',
        f'<text x="0" y="{height}" font-size="12">0</text>',
    ]
    for i, week in enumerate(weeks):
        x = left + i * (2 * bar + gap)
        for j, (run, colour) in enumerate(
            ((result.live, _LIVE_COLOUR), (result.candidate, _CANDIDATE_COLOUR))
        ):
            n = run.weekly.get(week, 0)
            h = round((height - 10) * n / top)
            parts.append(
                f'<rect x="{x + j * bar}" y="{height - h}" width="{bar}" height="{h}"'
                f' fill="{colour}"><title>{week.isoformat()}: {n}</title></rect>'
            )
        if i % 4 == 0:
            parts.append(
                f'<text x="{x}" y="{height + 16}" font-size="10">{week.strftime("%d %b")}</text>'
            )
    parts += [
        f'<rect x="{left}" y="{height + 24}" width="10" height="10" fill="{_LIVE_COLOUR}"/>',
        f'<text x="{left + 14}" y="{height + 33}" font-size="12">Live</text>',
        f'<rect x="{left + 60}" y="{height + 24}" width="10" height="10"'
        f' fill="{_CANDIDATE_COLOUR}"/>',
        f'<text x="{left + 74}" y="{height + 33}" font-size="12">Candidate</text>',
        "</svg>",
    ]
    return "".join(parts)


def render_backtest_html(result: Backtest, *, candidate_name: str = "candidate") -> str:
    """The same report as one HTML page: no scripts, no external resources."""
    body = sanitize(
        md.markdown(
            render_backtest(result, candidate_name=candidate_name),
            extensions=["tables", "sane_lists"],
        )
    )
    chart = (
        '<figure id="weekly-chart">' + weekly_chart(result) + "<figcaption>Alerts per week:"
        " live config (grey) and candidate (blue).</figcaption></figure>"
    )
    marker = "<h2>Alerts per week</h2>"
    body = body.replace(marker, marker + chart, 1) if marker in body else chart + body
    return html_page(f"Backtest — {fmt_date(result.start)} to {fmt_date(result.end)}", body)
