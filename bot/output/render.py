"""Rich renderings for the terminal: the same facts the Slack alert shows.

Text from the CRM (names, owners, evidence, scripts) goes in as ``Text`` through
``bot.output.safe_text``, never as markup: a name like ``Evil [/red] Co`` prints as it is, and
control characters show as symbols instead of reaching the terminal."""

from __future__ import annotations

from rich.console import Group, RenderableType
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from bot.domain.portfolio import Scored
from bot.output.safe_text import as_text, printable
from scoring.bands import Band
from scoring.brief import Brief
from scoring.evidence import fmt_date, fmt_money
from scoring.offer import APPROACHES, TALK_LINES

BAND_STYLE = {
    Band.PRIORITY: "bold red",
    Band.READY: "bold yellow",
    Band.CANDIDATE: "cyan",
    Band.NOT_YET: "dim",
}


def ranking_table(rows: list[Scored], title: str) -> Table:
    table = Table(title=title, title_justify="left", expand=False)
    table.add_column("#", justify="right")
    table.add_column("Account")
    table.add_column("Score", justify="right")
    table.add_column("Band")
    table.add_column("Trigger")
    table.add_column("Next")
    table.add_column("Tier", justify="right")
    for n, row in enumerate(rows, 1):
        a = row.assessment
        table.add_row(
            str(n),
            as_text(row.account.name),
            str(a.score),
            Text(a.band.label, style=BAND_STYLE[a.band]),
            a.trigger.kind.label if a.trigger else "—",
            _next(row),
            str(int(a.opportunity.tier)) if a.opportunity else "—",
        )
    return table


def account_panel(row: Scored, *, objections: bool = False, brief: Brief | None = None) -> Panel:
    """Score breakdown with evidence, trigger, gate, offer, opportunity and opening script;
    with ``objections`` (``explain``), the answers to the four objections too; with ``brief``
    (``explain``), seed 004's expansion brief and ROI."""
    a = row.assessment
    parts: list[RenderableType] = []
    points = Table.grid(padding=(0, 1))
    points.add_column(justify="right", style="bold")
    points.add_column()
    points.add_column(style="dim")
    for s in a.signals:
        points.add_row(f"+{s.points}", s.label, as_text(s.evidence))
    points.add_row(str(a.score), Text("total", style="bold"), "")
    parts.append(points if a.signals else Text("No readiness signals yet.", style="dim"))
    if a.trigger:
        parts.append(
            Text.assemble(
                ("Trigger: ", "bold"),
                f"{a.trigger.kind.label} on {fmt_date(a.trigger.on)} — ",
                printable(a.trigger.evidence),
            )
        )
    for reason in a.gate.reasons:
        parts.append(
            Text.assemble(("Hold: ", "bold red"), printable(f"{reason.evidence}. {reason.fix}"))
        )
    if a.activation:
        parts.append(Text.assemble(("Adoption: ", "bold"), printable(a.activation.evidence)))
    if a.offer is not None:
        parts.append(
            Text.assemble(
                ("Recommended: ", "bold green"),
                f"{a.offer.type.label} — ",
                printable(a.offer.reason),
            )
        )
    if a.offer is not None:
        parts.append(Text.assemble(("Approach: ", "bold"), APPROACHES[a.offer.type]))
        parts.append(Text.assemble(("Talk line: ", "bold"), TALK_LINES[a.offer.type]))
    if not a.gate.blocked:  # a hold already says what to fix
        parts.append(Text.assemble(("Next step: ", "bold green"), printable(a.next_step)))
    if a.opportunity:
        o = a.opportunity
        parts.append(
            Text(
                f"Opportunity {o.score:.1f}/10 ({o.tier.label}): about {fmt_money(o.expansion_arr)}"
                f" ARR · revenue {o.revenue}, effort {o.effort}, likelihood {o.likelihood}",
            )
        )
    if a.script:
        parts.append(
            Panel(as_text(a.script), title="Opening", title_align="left", border_style="green")
        )
    if objections and a.objections:
        answers = Table.grid(padding=(0, 1))
        answers.add_column(style="bold")
        answers.add_column()
        for objection in a.objections:
            answers.add_row(f"“{objection.says}”", printable(objection.answer))
        parts.append(Panel(answers, title="If they push back", title_align="left"))
    if brief is not None:
        parts.append(_brief_panel(brief))
    title = Text.assemble(printable(row.account.name), f" — {a.score} · {a.band.label} ({a.pace})")
    owner = as_text(row.account.owner_name or "no owner")
    return Panel(
        Group(*parts), title=title, title_align="left", subtitle=owner, subtitle_align="right"
    )


def _brief_panel(made: Brief) -> Panel:
    """The brief and ROI as two label/value lists: CRM words stay plain text."""
    table = Table.grid(padding=(0, 1))
    table.add_column(style="bold")
    table.add_column()
    for label, value in made.rows():
        table.add_row(label, as_text(value))
    table.add_row("", "")
    for label, value in made.roi.rows():
        table.add_row(label, as_text(value))
    return Panel(table, title="Brief and ROI", title_align="left")


def _next(row: Scored) -> Text:
    a = row.assessment
    if a.gate.blocked:
        return Text("Fix first: " + printable(a.gate.reasons[0].evidence), style="red")
    if a.offer is not None:
        return Text(a.offer.type.label)
    if a.activation is not None:
        return Text("Enablement first", style="cyan")
    return Text("—", style="dim")
