"""The `expansion-radar` command line.

CRM text (names, owners, steps) and anything a user typed are printed as ``Text`` through
``bot.output.safe_text``, never as rich markup: a name can neither break a line of output nor crash
it, style it, link it or send control sequences to the terminal."""

from __future__ import annotations

import sys
from datetime import date
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer
from pydantic import ValidationError
from rich.console import Console
from rich.text import Text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import OperationalError
from sqlmodel import Session

import db.accounts
import db.alerts
import db.facts
import db.plans
from bot.domain.brief import expansion_brief
from bot.domain.errors import DomainError, GateBlocked, NothingToOffer
from bot.domain.lookup import AccountIndex
from bot.domain.plan_document import plan_document
from bot.domain.plans import start_account_plan
from bot.domain.portfolio import Scored, assess_account, assess_portfolio
from bot.domain.stats import load_metrics, metrics_lines
from bot.infra.logs import configure_logging
from bot.infra.settings import AppConfig, Settings, load_app_config
from bot.output.calendar_export import steps_calendar
from bot.output.plan_document import render_plan_html, render_plan_md
from bot.output.render import account_panel, ranking_table
from bot.output.report import render_playbook
from bot.output.report_html import render_playbook_html
from bot.output.safe_text import printable
from bot.poll.cycle import run_cycle
from db import migrate
from db.engine import SessionFactory, is_sqlite, make_engine, session_factory, transaction
from db.models import Account, Alert, utcnow
from scoring.config import ConfigError, describe_validation_error
from scoring.evidence import fmt_date, plural
from scoring.plans import PlanKind
from sources.demo import SOURCE as DEMO_SOURCE
from sources.demo import demo_batch

app = typer.Typer(
    help="Expansion Radar: which accounts are ready to buy more, why, and what to say.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
db_app = typer.Typer(help="Database maintenance.", no_args_is_help=True)
app.add_typer(db_app, name="db")
plan_app = typer.Typer(
    help="Expansion plans: start one, write its document, export steps to a calendar.",
    no_args_is_help=True,
)
app.add_typer(plan_app, name="plan")
config_app = typer.Typer(help="The config file: what changed between two.", no_args_is_help=True)
app.add_typer(config_app, name="config")

console = Console()
err = Console(stderr=True)

TodayOption = Annotated[
    str | None,
    typer.Option("--today", help="Score as of this date (YYYY-MM-DD); default: today."),
]


@app.callback()
def _startup() -> None:
    """Logging first, so that nothing — not even a start-up error — prints a secret."""
    try:
        settings = Settings()
    except ValidationError as exc:  # names the variable and the problem, never the value
        raise ConfigError(describe_validation_error(exc, where="the environment")) from None
    configure_logging(settings.log_format, settings.log_level, settings.secret_values())


class CliError(Exception):
    """A problem the user can fix; shown as one clear line, exit code 1."""


def _today(value: str | None) -> date:
    if value is None:
        return date.today()
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise CliError(f"--today must look like 2026-12-15, not {value!r}") from None


def _setup() -> tuple[Settings, AppConfig, SessionFactory]:
    settings = Settings()
    config = load_app_config(settings.expansion_radar_config)
    engine = make_engine(settings.database_url)
    migrate.upgrade(engine)
    return settings, config, session_factory(engine)


def _where(settings: Settings) -> str:
    url = make_url(settings.database_url)
    if is_sqlite(settings.database_url):
        return f"SQLite {url.database}"
    return url.render_as_string(hide_password=True)


@app.command()
def demo(today: TodayOption = None) -> None:
    """Run a whole cycle on the bundled sample portfolio: no tokens, no network."""
    settings, config, factory = _setup()
    with factory() as session:
        anchor = _demo_anchor(session)
    day = _today(today) if today else (anchor or date.today())
    batch = demo_batch(day)
    result = run_cycle(factory, [batch], day, config)
    console.print(
        Text.assemble(
            ("Expansion Radar demo", "bold"),
            f" — {len(batch.accounts)} sample accounts as of {fmt_date(day)}",
            f" ({printable(_where(settings))})",
        )
    )
    with factory() as session:
        rows = assess_portfolio(session, day, config)
        console.print(ranking_table(rows, "Every account, ranked"))
        new_ids = set(result.new_alerts)
        alerted = [r for r in rows if _alert_id(session, r) in new_ids]
    if alerted:
        console.print(
            f"\n[bold]{plural(len(result.new_alerts), 'new alert')}[/] queued for Slack"
            f" ({len(result.digest_alerts)} more for the Candidate digest),"
            f" from {plural(result.new_episodes, 'new trigger episode')}:\n"
        )
        for row in alerted:
            console.print(account_panel(row))
    else:
        console.print(
            f"\n[bold green]No new alerts.[/] All {result.known_episodes} trigger episodes were"
            " already recorded by an earlier run, so nothing would be posted twice."
        )
    out = Path("expansion-playbook.md")
    out.write_text(render_playbook(rows, day, "Demo portfolio"), encoding="utf-8")
    console.print(f"\nPlaybook written to [bold]{out}[/]. Try: expansion-radar explain brightops")


def _demo_anchor(session: Session) -> date | None:
    """The day an earlier demo ran, so a second run replays the same day and dedupes."""
    return db.facts.latest_snapshot_date(session, source=DEMO_SOURCE)


def _alert_id(session: Session, row: Scored) -> int | None:
    assert row.account.id is not None
    alert: Alert | None = db.alerts.latest_alert(session, row.account.id)
    return alert.id if alert else None


def _one_account(session: Session, query: str) -> Account:
    """Resolve what a person typed to exactly one account, or explain why not."""
    found = AccountIndex(db.accounts.account_names(session)).find(query)  # as /expansion does
    if not found.matches:
        hint = ", ".join(found.suggestions) if found.suggestions else "none: is the book empty?"
        raise CliError(f"No account matches {query!r}. Closest names: {hint}")
    if len(found.matches) > 1:
        names = ", ".join(name for _, _, name, _ in found.matches)
        raise CliError(f"{query!r} matches several accounts: {names}. Be more specific.")
    record = session.get(Account, found.matches[0][0])
    assert record is not None
    return record


@app.command()
def explain(
    account: Annotated[str, typer.Argument(help="Account name, key or domain.")],
    today: TodayOption = None,
) -> None:
    """Show one account's score, evidence, trigger, gate, offer, opening script, and its
    expansion brief and ROI."""
    _, config, factory = _setup()
    day = _today(today)
    with factory() as session:
        record = _one_account(session, account)
        scored = assess_account(session, record, day, config)
        brief = expansion_brief(session, scored)
        console.print(account_panel(scored, objections=True, brief=brief))


class ReportFormat(StrEnum):
    MD = "md"
    HTML = "html"


FormatOption = Annotated[
    ReportFormat, typer.Option("--format", help="Markdown, or a self-contained HTML page.")
]


@app.command()
def report(
    output: Annotated[
        Path | None,
        typer.Option(
            "-o", "--output", help="Where to write it [default: expansion-playbook.md|html]."
        ),
    ] = None,
    fmt: FormatOption = ReportFormat.MD,
    today: TodayOption = None,
) -> None:
    """Write the expansion playbook for the whole book."""
    _, config, factory = _setup()
    day = _today(today)
    with factory() as session:
        rows = assess_portfolio(session, day, config)
    target = output or Path(f"expansion-playbook.{fmt.value}")
    if fmt is ReportFormat.HTML:
        target.write_text(render_playbook_html(rows, day), encoding="utf-8")
    else:
        target.write_text(render_playbook(rows, day), encoding="utf-8")
    console.print(
        Text.assemble(
            f"Playbook for {plural(len(rows), 'account')} written to ",
            (printable(str(target)), "bold"),
            ".",
        )
    )


def _refusal(error: DomainError) -> str:
    """Why no plan was started, in plain words: the same refusals Slack gives
    (bot/slack/wording.py), without its markup."""
    if isinstance(error, GateBlocked):
        fix = (error.fix_first or "").rstrip(".")
        return f"{error.account} needs fixing first: {fix}. No expansion plan until then."
    if isinstance(error, NothingToOffer):
        return f"No expansion plan for {error.account} yet. {error.advice}"
    return "That plan cannot be started right now."


@plan_app.command("start")
def plan_start(
    account: Annotated[str, typer.Argument(help="Account name, key or domain.")],
    today: TodayOption = None,
) -> None:
    """Start the account's expansion plan (90-day, or pre-renewal for a renewal-led play), as
    Slack's Start plan does: refused while the account is held or has nothing to offer, tied
    to its open alert."""
    _, config, factory = _setup()
    day = _today(today)
    with transaction(factory) as session:
        record = _one_account(session, account)
        assert record.id is not None
        try:
            started = start_account_plan(
                session,
                account_id=record.id,
                alert_id=None,
                user_id=None,
                config=config,
                today=day,
                now=utcnow(),
            )
        except DomainError as exc:
            raise CliError(_refusal(exc)) from None
    plan, created, steps = started.plan, started.created, started.steps
    verb = "Started" if created else "Already open:"
    console.print(
        Text.assemble(
            f"{verb} the {PlanKind(plan.kind).label} plan for ",
            (printable(record.name), "bold"),
            ":",
        )
    )
    for step in steps:
        console.print(
            Text(f"  {fmt_date(step.due_on):>12}  {step.role:<5}  {printable(step.name)}")
        )


@plan_app.command("doc")
def plan_doc(
    account: Annotated[str, typer.Argument(help="Account name, key or domain.")],
    fmt: FormatOption = ReportFormat.MD,
    output: Annotated[
        Path | None,
        typer.Option("-o", "--output", help="Where to write it [default: print Markdown]."),
    ] = None,
    today: TodayOption = None,
) -> None:
    """Write the account's expansion plan document (seed 002): signals, plays, renewal."""
    _, config, factory = _setup()
    day = _today(today)
    with factory() as session:
        record = _one_account(session, account)
        doc = plan_document(session, record, day, config)
    text = render_plan_html(doc) if fmt is ReportFormat.HTML else render_plan_md(doc)
    if output is None:
        sys.stdout.write(text)
        return
    output.write_text(text, encoding="utf-8")
    console.print(
        Text.assemble(
            "Plan for ",
            (printable(record.name), "bold"),
            " written to ",
            (printable(str(output)), "bold"),
            ".",
        )
    )


@plan_app.command("export")
def plan_export(
    account: Annotated[
        str | None, typer.Argument(help="Account name, key or domain (or use --owner).")
    ] = None,
    owner: Annotated[
        str | None, typer.Option("--owner", help="Every open step of this owner (email).")
    ] = None,
    output: Annotated[Path, typer.Option("-o", "--output", help="The .ics file to write.")] = Path(
        "plan.ics"
    ),
) -> None:
    """Write open plan steps as an iCalendar file for Google Calendar or Outlook."""
    if (account is None) == (owner is None):
        raise CliError("Give an account, or --owner EMAIL, but not both.")
    _, _, factory = _setup()
    with factory() as session:
        if owner is not None:
            rows = db.plans.open_steps(session, owner=owner)
            name = f"Expansion plan steps — {owner}"
        else:
            assert account is not None
            record = _one_account(session, account)
            assert record.id is not None
            plan = db.plans.open_plan(session, record.id)
            if plan is None or plan.id is None:
                raise CliError(
                    f"{record.name} has no open plan. Start one: expansion-radar plan start"
                    f" {record.key}"
                )
            rows = [(step, plan, record) for step in db.plans.plan_steps(session, plan.id)]
            name = f"Expansion plan — {record.name}"
    output.write_bytes(steps_calendar(rows, name))
    console.print(
        Text.assemble(
            f"{plural(len(rows), 'step')} written to ", (printable(str(output)), "bold"), "."
        )
    )


@app.command()
def stats(
    owner: Annotated[
        str | None, typer.Option("--owner", help="Only this owner's accounts (email).")
    ] = None,
    today: TodayOption = None,
) -> None:
    """Outcome metrics: pipeline, conversion, time to close, alert quality, NRR and GRR."""
    _, _, factory = _setup()
    with factory() as session:
        metrics = load_metrics(session, today=_today(today), owner=owner)
    for line in metrics_lines(metrics):
        console.print(Text(printable(line)), highlight=False)


def _date_option(value: str | None, name: str) -> date | None:
    if value is None:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise CliError(f"{name} must look like 2026-12-15, not {value!r}") from None


@app.command()
def backtest(
    config: Annotated[
        Path,
        typer.Option("--config", help="The candidate config file to compare with the live one."),
    ],
    start: Annotated[
        str | None,
        typer.Option("--from", help="First day reported (YYYY-MM-DD); default: the first stored."),
    ] = None,
    end: Annotated[
        str | None, typer.Option("--to", help="Last day replayed (YYYY-MM-DD); default: today.")
    ] = None,
    fmt: FormatOption = ReportFormat.MD,
    output: Annotated[
        Path | None,
        typer.Option("-o", "--output", help="Where to write it [default: backtest.md|html]."),
    ] = None,
    processes: Annotated[
        int, typer.Option("--processes", min=1, help="Helper processes for the replay.")
    ] = 1,
) -> None:
    """Replay the stored history with a candidate config and with the live one: what alerts
    each would have raised, which the candidate adds or removes, and how those fared."""
    from bot.domain.backtest import run_backtest
    from bot.output.backtest_report import render_backtest, render_backtest_html

    settings, live, factory = _setup()
    candidate = load_app_config(config)
    first, last = _date_option(start, "--from"), _date_option(end, "--to") or date.today()
    if first is not None and first > last:
        raise CliError(f"--from {first.isoformat()} is after --to {last.isoformat()}")
    with factory() as session:
        result = run_backtest(
            session,
            live,
            candidate,
            start=first,
            end=last,
            default_channel=settings.expansion_channel,
            processes=processes,
        )
    target = output or Path(f"backtest.{fmt.value}")
    render = render_backtest_html if fmt is ReportFormat.HTML else render_backtest
    target.write_text(render(result, candidate_name=config.name), encoding="utf-8")
    console.print(
        Text.assemble(
            f"Live {plural(len(result.live.alerts), 'alert')}, candidate"
            f" {len(result.candidate.alerts)}: {len(result.added)} added,"
            f" {len(result.removed)} removed. Report written to ",
            (printable(str(target)), "bold"),
            ".",
        )
    )


@config_app.command("diff")
def config_diff(
    old: Annotated[Path, typer.Argument(help="The config file as it was.")],
    new: Annotated[Path, typer.Argument(help="The config file as it would be.")],
) -> None:
    """List what changed between two config files, in plain words."""
    from bot.infra.config_diff import config_changes

    changes = config_changes(load_app_config(old), load_app_config(new))
    if not changes:
        console.print("No changes: both files configure the same thing.")
    for line in changes:
        console.print(Text(printable(line)), highlight=False)


@app.command()
def run(
    host: Annotated[
        str, typer.Option("--host", help="Interface for HTTP (and /healthz, /metrics).")
    ] = "0.0.0.0",
) -> None:
    """Serve the Slack app with its scheduler: Socket Mode when SLACK_APP_TOKEN is set, else
    HTTP (POST /slack/events, GET /healthz, GET /metrics) on PORT."""
    from bot.infra.leases import AlreadyRunning, single_process_guard
    from bot.slack.errors import UserError
    from bot.slack.runner import serve

    settings, config, factory = _setup()
    try:
        lock = single_process_guard(settings.database_url)
    except AlreadyRunning as exc:
        raise CliError(str(exc)) from None
    try:
        serve(settings, config, factory, host=host)
    except UserError as exc:
        raise CliError(exc.message) from None
    finally:
        if lock is not None:
            lock.release()


@app.command()
def poll(
    source: Annotated[
        list[str] | None,
        typer.Option("--source", "-s", help="Poll only this source (repeatable); default: all."),
    ] = None,
    full: Annotated[
        bool, typer.Option("--full", help="Ignore the sync cursor and read everything again.")
    ] = False,
    rescore_all: Annotated[
        bool,
        typer.Option("--rescore-all", help="Re-score every account, not only those that changed."),
    ] = False,
    today: TodayOption = None,
) -> None:
    """Poll the configured sources now, then re-score the accounts whose data changed."""
    from bot.infra.leases import run_exclusively
    from bot.output.poll_cli import progress_bar, summary_table
    from bot.poll.registry import UnknownSource, configured_sources
    from bot.poll.run import poll as run_poll
    from bot.poll.runs import lease_busy_message
    from bot.scheduler import LEASE, LEASE_TTL

    settings, config, factory = _setup()
    day = _today(today)
    try:
        sources = configured_sources(settings, config, only=source)
    except UnknownSource as exc:
        raise CliError(str(exc)) from None
    if not sources and not rescore_all:
        raise CliError(
            "no source is configured: set HUBSPOT_ACCESS_TOKEN, SALESFORCE_INSTANCE_URL and"
            " SALESFORCE_ACCESS_TOKEN, USAGE_API_URL, or sources.files in the config file"
            " (see docs/sources.md)"
        )
    with progress_bar(console) as progress:
        summary = run_exclusively(  # one poll at a time, whoever starts it
            factory,
            LEASE,
            lambda: run_poll(
                factory,
                sources,
                today=day,
                config=config,
                progress=progress,
                full=full,
                rescore_all=rescore_all,
            ),
            ttl=LEASE_TTL,
        )
    if summary is None:
        with factory() as session:
            raise CliError(lease_busy_message(session))
    console.print(summary_table(summary))
    if not summary.ok:
        raise SystemExit(1)


@app.command()
def status() -> None:
    """Each source's last success, last error, sync cursor and last run's counts."""
    from bot.output.poll_cli import status_view

    settings, config, factory = _setup()
    with factory() as session:
        console.print(status_view(session, settings, config))


@db_app.command("upgrade")
def db_upgrade() -> None:
    """Apply database migrations (run before starting a new version)."""
    settings = Settings()
    engine = make_engine(settings.database_url)
    migrate.upgrade(engine)
    console.print(
        Text(
            f"Database at {printable(_where(settings))} is at revision"
            f" {migrate.current_revision(engine)}."
        )
    )


def _error(message: str) -> None:
    err.print(Text.assemble(("error:", "red"), " ", printable(message)), soft_wrap=True)


def main() -> None:
    """Run the CLI; a problem the user can fix is one line, never a traceback: exit code 2
    for a config that cannot be used (file or environment), 1 for anything else."""
    try:
        app()
    except ConfigError as exc:
        _error(str(exc))
        raise SystemExit(2) from None
    except CliError as exc:
        _error(str(exc))
        raise SystemExit(1) from None
    except OperationalError as exc:
        _error(f"the database is not reachable: {exc.orig}")
        raise SystemExit(1) from None
