"""`expansion-radar plan`: start a plan, write its document, export its steps."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.text import Text

import db.accounts
import db.plans
from bot.cli_common import (
    CliError,
    FormatOption,
    ReportFormat,
    TodayOption,
    console,
    one_account,
    parse_today,
    setup,
)
from bot.domain.errors import DomainError, GateBlocked, NothingToOffer
from bot.domain.plan_document import plan_document
from bot.domain.plans import start_account_plan
from bot.output.calendar_export import steps_calendar
from bot.output.plan_document import render_plan_html, render_plan_md
from bot.output.safe_text import printable
from db.engine import transaction
from db.models import utcnow
from scoring.evidence import fmt_date, plural
from scoring.plans import PlanKind

plan_app = typer.Typer(
    help="Expansion plans: start one, write its document, export steps to a calendar.",
    no_args_is_help=True,
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
    _, config, factory = setup()
    day = parse_today(today)
    with transaction(factory) as session:
        record = one_account(session, account)
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
    _, config, factory = setup()
    day = parse_today(today)
    with factory() as session:
        record = one_account(session, account)
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
    _, _, factory = setup()
    with factory() as session:
        if owner is not None:
            rows = db.plans.open_steps(session, owner=owner)
            name = f"Expansion plan steps — {owner}"
        else:
            assert account is not None
            record = one_account(session, account)
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
