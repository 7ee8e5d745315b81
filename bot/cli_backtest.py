"""`expansion-radar backtest` and `config diff`: what a candidate config would have done, and
what it changes."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Annotated

import typer
from rich.text import Text

from bot.cli_common import (
    CliError,
    FormatOption,
    ReportFormat,
    console,
    parse_date_option,
    setup,
)
from bot.infra.settings import load_app_config
from bot.output.safe_text import printable
from scoring.evidence import plural

config_app = typer.Typer(help="The config file: what changed between two.", no_args_is_help=True)


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

    settings, live, factory = setup()
    candidate = load_app_config(config)
    first, last = parse_date_option(start, "--from"), parse_date_option(end, "--to") or date.today()
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
