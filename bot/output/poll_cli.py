"""What ``expansion-radar poll`` and ``expansion-radar status`` show: a progress bar while
sources are read, a summary after, and each source's sync state. No secret is ever shown:
only whether a credential is set. What a source said (errors, rejected records) is printed as
``Text`` through ``bot.output.safe_text``, never as markup or raw control characters."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime

from rich.console import Console, Group
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    SpinnerColumn,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
)
from rich.progress import Progress as RichBar
from rich.table import Table
from rich.text import Text
from sqlmodel import Session

import db.runs
from bot.infra.settings import AppConfig, Settings
from bot.output.safe_text import as_text, printable
from bot.poll.registry import configured_names
from bot.poll.run import PollSummary, SourceOutcome
from bot.poll.runs import ABANDONED, SCORING, poll_in_progress, shown_status
from db.models import PollRun, PollRunStatus, SourceState
from scoring.evidence import plural
from sources.base import describe_cursor


class BarProgress:
    """The poll's progress as rich bars: one per source, one for the re-scoring."""

    def __init__(self, bar: RichBar) -> None:
        self.bar = bar
        self.tasks: dict[str, TaskID] = {}

    def source_started(self, name: str) -> None:
        self.tasks[name] = self.bar.add_task(f"{name}: reading", total=None)

    def batch_written(self, name: str, fetched: int, total: int | None) -> None:
        task = self.tasks[name]
        self.bar.update(task, completed=fetched, total=max(total, fetched) if total else None)

    def source_finished(self, outcome: SourceOutcome) -> None:
        task = self.tasks[outcome.name]
        word = "[green]done[/]" if outcome.status == PollRunStatus.OK else "[red]failed[/]"
        self.bar.update(
            task,
            description=f"{outcome.name}: {word}",
            total=max(outcome.fetched, 1),
            completed=max(outcome.fetched, 1)
            if outcome.status == PollRunStatus.OK
            else outcome.fetched,
        )

    def scoring(self, done: int, total: int) -> None:
        if SCORING not in self.tasks:
            self.tasks[SCORING] = self.bar.add_task("re-scoring changed accounts", total=total)
        self.bar.update(self.tasks[SCORING], completed=done, total=max(total, done))


@contextmanager
def progress_bar(console: Console) -> Iterator[BarProgress]:
    bar = RichBar(
        SpinnerColumn(),
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
        transient=False,
    )
    with bar:
        yield BarProgress(bar)


def summary_table(summary: PollSummary) -> Group:
    table = Table(title="Poll", title_justify="left")
    for name, justify in (
        ("source", "left"),
        ("status", "left"),
        ("read", "right"),
        ("rejected", "right"),
        ("unmatched", "right"),
        ("changed", "right"),
        ("unknown fields", "right"),
        ("time", "right"),
    ):
        table.add_column(name, justify=justify)  # type: ignore[arg-type]
    for o in summary.sources:
        status = "[green]ok[/]" if o.status == PollRunStatus.OK else "[red]failed[/]"
        table.add_row(
            as_text(o.name),
            status,
            f"{o.fetched:,}",
            f"{o.rejected:,}",
            f"{o.unmatched:,}",
            f"{o.changed:,}",
            f"{sum(o.issues.values()):,}",
            f"{o.seconds:.1f} s",
        )
    lines: list[object] = [table]
    for o in summary.sources:
        if o.error:
            lines.append(Text.assemble((f"{printable(o.name)}:", "red"), " ", printable(o.error)))
        for reason, n in o.issues.most_common(3):
            lines.append(as_text(f"{o.name}: {n:,} × {reason} (marked unknown)", "dim"))
        for message in o.messages[:3]:
            lines.append(as_text(message, "dim"))
    r = summary.scoring
    lines.append(
        f"Re-scored {plural(summary.evaluated, 'account')}:"
        f" {plural(r.new_episodes, 'new trigger episode')},"
        f" {plural(len(r.new_alerts), 'new alert')} for Slack,"
        f" {len(r.digest_alerts):,} for the digest,"
        f" {len(r.updated_alerts):,} updated, {len(r.cleared_alerts):,} cleared."
    )
    if r.shadow_alerts:
        lines.append(f"Shadow rules: {plural(len(r.shadow_alerts), 'new shadow alert')}.")
    if summary.scoring_error:
        lines.append(
            Text.assemble(("re-scoring stopped:", "red"), " ", printable(summary.scoring_error))
        )
    return Group(*lines)  # type: ignore[arg-type]


def _when(moment: datetime | None, now: datetime) -> str:
    if moment is None:
        return "never"
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    ago = (now - moment).total_seconds()
    if ago < 90:
        rel = f"{max(0, int(ago))} s ago"
    elif ago < 5400:
        rel = f"{int(ago // 60)} min ago"
    elif ago < 172_800:
        rel = f"{int(ago // 3600)} h ago"
    else:
        rel = f"{int(ago // 86400)} days ago"
    return f"{moment.astimezone(UTC):%d %b %Y %H:%M} UTC ({rel})"


def _credential(name: str, settings: Settings) -> str:
    """Which setting enables a source; the value itself is never shown."""
    if name == "hubspot":
        return "HUBSPOT_ACCESS_TOKEN set"
    if name == "salesforce":
        return "SALESFORCE_INSTANCE_URL + token set"
    if name == "usage":
        token = "token set" if settings.usage_api_token else "no token"
        return f"USAGE_API_URL set, {token}"
    if name == "demo":
        return "sources.demo.enabled"
    return "sources.files"


def status_view(
    session: Session, settings: Settings, config: AppConfig, now: datetime | None = None
) -> Group:
    now = now or datetime.now(UTC)
    configured = configured_names(settings, config)
    states: dict[str, SourceState] = {s.source: s for s in db.runs.source_states(session)}
    runs: dict[str, PollRun] = db.runs.last_run_per_source(session)
    polling = poll_in_progress(session)
    names = configured + sorted(n for n in {*states, *runs} if n not in configured and n != SCORING)
    lines: list[object] = []
    for name in names:
        state = states.get(name)
        run = runs.get(name)
        where = _credential(name, settings) if name in configured else "no longer configured"
        grid = Table.grid(padding=(0, 2))
        grid.add_column(style="dim", no_wrap=True)
        grid.add_column()
        grid.add_row("last success", _when(state.last_success_at if state else None, now))
        if state is not None and state.last_error:
            grid.add_row(
                "last error", as_text(f"{_when(state.last_error_at, now)}: {state.last_error}")
            )
        else:
            grid.add_row("last error", "none")
        grid.add_row("next poll", as_text(describe_cursor(state.cursor if state else None)))
        grid.add_row("last run", as_text(_run_line(run, now, polling)))
        lines += [Text.assemble((printable(name), "bold"), " ", (f"({where})", "dim")), grid, ""]
    if not configured:
        lines.append(
            "No source is configured: set HUBSPOT_ACCESS_TOKEN, SALESFORCE_INSTANCE_URL and"
            " SALESFORCE_ACCESS_TOKEN, USAGE_API_URL, or sources.files in the config file"
            " (docs/sources.md)."
        )
    scoring = runs.get(SCORING)
    lines.append(
        f"[bold]re-scoring[/]: last {_run_line(scoring, now, polling)};"
        f" {db.runs.pending_count(session):,}"
        " accounts waiting to be re-scored."
    )
    return Group(*lines)  # type: ignore[arg-type]


def _run_line(run: PollRun | None, now: datetime, polling: bool) -> str:
    if run is None:
        return "never"
    status = shown_status(run, polling)
    head = f"{status}, {_when(run.started_at, now)}"
    if status == ABANDONED and run.status == PollRunStatus.RUNNING:
        head += (
            " (its process stopped before it finished; the next poll goes on from its last batch)"
        )
    if run.source == SCORING:
        return (
            f"{head}: {run.fetched:,} scored, {plural(run.episodes, 'episode')},"
            f" {plural(run.alerts, 'alert')}"
        )
    return (
        f"{head}: {run.fetched:,} read, {run.rejected:,} rejected, {run.unmatched:,} unmatched,"
        f" {run.changed:,} changed"
    )
