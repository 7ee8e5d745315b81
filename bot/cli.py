"""The `expansion-radar` command line.

CRM text (names, owners, steps) and anything a user typed are printed as ``Text`` through
``bot.output.safe_text``, never as rich markup: a name can neither break a line of output nor crash
it, style it, link it or send control sequences to the terminal."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Annotated

import typer
from pydantic import ValidationError
from rich.text import Text
from sqlalchemy.exc import OperationalError
from sqlmodel import Session

import db.accounts
import db.alerts
import db.facts
import db.plans
from bot.cli_backtest import backtest, config_app
from bot.cli_common import (
    CliError,
    FormatOption,
    ReportFormat,
    TodayOption,
    console,
    database_label,
    err,
    one_account,
    parse_today,
    setup,
)
from bot.cli_plans import plan_app
from bot.domain.brief import expansion_brief
from bot.domain.portfolio import Scored, assess_account, assess_portfolio
from bot.domain.stats import load_metrics, metrics_lines
from bot.infra.logs import configure_logging
from bot.infra.settings import Settings
from bot.output.render import account_panel, ranking_table
from bot.output.report import render_playbook
from bot.output.report_html import render_playbook_html
from bot.output.safe_text import printable
from bot.poll.cycle import run_cycle
from db import migrate
from db.engine import make_engine
from db.models import Alert
from scoring.config import ConfigError, describe_validation_error
from scoring.evidence import fmt_date, plural
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
app.add_typer(plan_app, name="plan")
app.add_typer(config_app, name="config")
app.command()(backtest)


@app.callback()
def _startup() -> None:
    """Logging first, so that nothing — not even a start-up error — prints a secret."""
    try:
        settings = Settings()
    except ValidationError as exc:  # names the variable and the problem, never the value
        raise ConfigError(describe_validation_error(exc, where="the environment")) from None
    configure_logging(settings.log_format, settings.log_level, settings.secret_values())


@app.command()
def demo(today: TodayOption = None) -> None:
    """Run a whole cycle on the bundled sample portfolio: no tokens, no network."""
    settings, config, factory = setup()
    with factory() as session:
        anchor = _demo_anchor(session)
    day = parse_today(today) if today else (anchor or date.today())
    batch = demo_batch(day)
    result = run_cycle(factory, [batch], day, config)
    console.print(
        Text.assemble(
            ("Expansion Radar demo", "bold"),
            f" — {len(batch.accounts)} sample accounts as of {fmt_date(day)}",
            f" ({printable(database_label(settings))})",
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


@app.command()
def explain(
    account: Annotated[str, typer.Argument(help="Account name, key or domain.")],
    today: TodayOption = None,
) -> None:
    """Show one account's score, evidence, trigger, gate, offer, opening script, and its
    expansion brief and ROI."""
    _, config, factory = setup()
    day = parse_today(today)
    with factory() as session:
        record = one_account(session, account)
        scored = assess_account(session, record, day, config)
        brief = expansion_brief(session, scored)
        console.print(account_panel(scored, objections=True, brief=brief))


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
    _, config, factory = setup()
    day = parse_today(today)
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


@app.command()
def stats(
    owner: Annotated[
        str | None, typer.Option("--owner", help="Only this owner's accounts (email).")
    ] = None,
    today: TodayOption = None,
) -> None:
    """Outcome metrics: pipeline, conversion, time to close, alert quality, NRR and GRR."""
    _, _, factory = setup()
    with factory() as session:
        metrics = load_metrics(session, today=parse_today(today), owner=owner)
    for line in metrics_lines(metrics):
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

    settings, config, factory = setup()
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

    settings, config, factory = setup()
    day = parse_today(today)
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

    settings, config, factory = setup()
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
            f"Database at {printable(database_label(settings))} is at revision"
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
