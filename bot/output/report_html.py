"""The playbook as a self-contained HTML page: same content, plus a chart of the pipeline by band.

No scripts and no external resources, so it opens anywhere (mail attachment, intranet, file://)
and cannot produce console errors or leak data to a CDN.

CRM text is escaped before it enters the Markdown (``bot.output.safe_text.markdown``), and the HTML
Markdown makes is then sanitized by nh3 (the Ammonia sanitizer) down to the elements the
playbook uses, with links only to http(s) and mailto: if the escaping ever missed a case,
the sanitizer still turns it into text. The chart is ours (band labels and numbers only) and
goes in after the sanitizer, which would not keep SVG.
"""

from __future__ import annotations

import html
from datetime import date

import markdown
import nh3

from bot.domain.portfolio import Scored
from bot.output.report import render_playbook
from scoring.bands import Band
from scoring.evidence import fmt_date, fmt_money, plural

_COLOURS = {
    Band.PRIORITY: "#dc2626",
    Band.READY: "#d97706",
    Band.CANDIDATE: "#0891b2",
    Band.NOT_YET: "#9ca3af",
}

_CSS = """
body { font: 15px/1.5 system-ui, -apple-system, "Segoe UI", sans-serif; color: #111827;
       max-width: 60rem; margin: 2rem auto; padding: 0 1rem; }
h1 { font-size: 1.8rem; } h2 { margin-top: 2.5rem; border-bottom: 1px solid #e5e7eb; }
table { border-collapse: collapse; margin: 1rem 0; }
th, td { border: 1px solid #e5e7eb; padding: .3rem .6rem; text-align: left; vertical-align: top; }
th { background: #f9fafb; } blockquote { border-left: 4px solid #16a34a; margin: 0;
padding: .2rem 1rem; background: #f0fdf4; } figure { margin: 1.5rem 0; }
figcaption { color: #4b5563; font-size: .9rem; }
"""


# What Python-Markdown makes of the playbook (tables, lists, quotes, emphasis), nothing more.
_TAGS = {
    "h1", "h2", "h3", "h4", "p", "br", "hr", "ul", "ol", "li", "strong", "em", "code",
    "blockquote", "table", "thead", "tbody", "tr", "th", "td", "a",
}  # fmt: skip
_ATTRIBUTES = {"a": {"href", "title"}, "ol": {"start"}}
_SCHEMES = ("http:", "https:", "mailto:")


def _absolute_link(tag: str, attribute: str, value: str) -> str | None:
    """Only absolute http(s) and mailto links: a relative one has no page to point to here."""
    if attribute == "href" and not value.strip().lower().startswith(_SCHEMES):
        return None
    return value


_SANITIZER = nh3.Cleaner(
    tags=_TAGS,
    clean_content_tags={"script", "style"},
    attributes=_ATTRIBUTES,
    attribute_filter=_absolute_link,
    url_schemes={"http", "https", "mailto"},
    strip_comments=True,
)


def sanitize(body: str) -> str:
    """Rendered playbook HTML with every element, attribute and link the playbook does not
    use removed (their text stays)."""
    return _SANITIZER.clean(body)


def pipeline_by_band(rows: list[Scored]) -> list[tuple[Band, int, float]]:
    """(band, accounts, expansion ARR of the accounts we would pitch) for each band."""
    out = []
    for band in Band:
        group = [r for r in rows if r.assessment.band is band]
        pipeline = sum(
            r.assessment.opportunity.expansion_arr
            for r in group
            if r.assessment.pitchable and r.assessment.opportunity
        )
        out.append((band, len(group), pipeline))
    return out


def pipeline_chart(rows: list[Scored]) -> str:
    """A horizontal bar chart as inline SVG, with a text equivalent for screen readers."""
    data = pipeline_by_band(rows)
    top = max((arr for _, _, arr in data), default=0.0) or 1.0
    bar_h, gap, label_w, width = 28, 12, 150, 520
    height = len(data) * (bar_h + gap) + gap
    parts = [
        f'<svg role="img" aria-labelledby="chart-title" width="{label_w + width + 170}"'
        f' height="{height}" xmlns="http://www.w3.org/2000/svg">',
        '<title id="chart-title">Expansion pipeline by readiness band</title>',
    ]
    for i, (band, count, arr) in enumerate(data):
        y = gap + i * (bar_h + gap)
        w = max(int(width * arr / top), 2 if arr else 0)
        parts += [
            f'<text x="0" y="{y + bar_h * 0.7:.0f}" font-size="14">{band.label}</text>',
            f'<rect x="{label_w}" y="{y}" width="{w}" height="{bar_h}"'
            f' fill="{_COLOURS[band]}" rx="3"/>',
            f'<text x="{label_w + w + 8}" y="{y + bar_h * 0.7:.0f}" font-size="13">'
            f"{fmt_money(arr)} · {plural(count, 'account')}</text>",
        ]
    parts.append("</svg>")
    return "".join(parts)


def render_playbook_html(rows: list[Scored], today: date, portfolio: str = "All accounts") -> str:
    body = sanitize(
        markdown.markdown(
            render_playbook(rows, today, portfolio), extensions=["tables", "sane_lists"]
        )
    )
    # The chart goes right after the executive summary.
    marker = "<h2>Tier 1 Opportunities"
    chart = (
        '<figure id="pipeline-chart">' + pipeline_chart(rows) + "<figcaption>Expansion ARR we"
        " would pitch now, by readiness band (accounts in each band after the amount)."
        "</figcaption></figure>"
    )
    body = body.replace(marker, chart + marker, 1) if marker in body else chart + body
    return html_page(f"Expansion playbook — {fmt_date(today)}", body)


def html_page(title: str, body: str) -> str:
    """A page that needs nothing else: ``body`` is already sanitized, ``title`` is escaped."""
    return (
        '<!doctype html>\n<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{html.escape(title)}</title><style>{_CSS}</style></head>"
        f"<body>{body}</body></html>\n"
    )
