"""Listeners, one module per kind; each registers its own.

Slack waits three seconds for an acknowledgement whatever Slack, the database or ``users.info``
are doing. So every listener comes in two parts, registered with ``listen`` as Bolt's
``ack=`` / ``lazy=`` pair:

- the **ack** part runs in the request thread and must answer from the payload alone — no Web
  API call, no database, no lookup (a slash command's help, a modal's field errors, or an empty
  ack). The app runs with ``process_before_response=True``, so Slack's HTTP response is sent
  the moment it returns, never waiting for a free worker thread;
- the **work** part runs after the response has gone (a lazy listener, in the listener
  executor) and tells the person how it went: ``respond()`` through the response_url, an edited
  message, or — for a failure — ``report_error`` (response_url, ephemeral, else a DM).

Neither part raises into Bolt: a failure in the ack part is still acknowledged, logged under an
id and reported by the work part; a failure in the work part is reported to the person.
"""

from __future__ import annotations

import inspect
import logging
import uuid
from collections.abc import Callable
from typing import Any

from slack_bolt import Ack, App
from slack_bolt.kwargs_injection import Args, build_required_kwargs

from bot.slack.errors import UserError, report_error, sorry, tell

log = logging.getLogger(__name__)

# Keys the ack part leaves in the request's context for the work part (Bolt copies the context
# into the lazy listener's request after the ack part returns).
_FAILED = "expansion_radar_ack_failed"  # the ack part failed: what to tell the person
_DONE = "expansion_radar_done"  # the ack part answered everything (help, field errors)


def listen(work: Callable[..., None], *, ack: Callable[..., bool | None] | None = None) -> Any:
    """Keyword arguments for ``app.command(…)`` / ``app.action(…)`` / …: ``ack`` (default: an
    empty acknowledgement) answers at once and may return False when it has answered
    everything; ``work`` runs after Slack has its response. Both take Bolt's arguments by
    name, plus ``deps``."""
    return {"ack": _ack_part(ack or _empty_ack), "lazy": [_work_part(work)]}


def _empty_ack(ack: Ack) -> None:
    ack()


def _kwargs(names: list[str], args: Args) -> dict[str, Any]:
    """The arguments ``names`` asks for, injected by Bolt's own mechanism (the one it uses for
    every listener): Bolt's arguments by name, plus the request context's keys (``deps``)."""
    return build_required_kwargs(
        logger=args.logger,
        required_arg_names=list(names),  # Bolt may drop a leading self/cls from the list
        request=args.request,
        response=args.response,
        next_keys_required=False,
    )


def _ack_part(func: Callable[..., bool | None]) -> Callable[[Args], None]:
    names = list(inspect.signature(func).parameters)

    def ack_part(args: Args) -> None:
        try:
            if func(**_kwargs(names, args)) is False:
                args.context[_DONE] = True
        except UserError as exc:  # e.g. a damaged button value: said after the ack
            args.context[_FAILED] = exc.message
        except Exception as exc:
            error_id = uuid.uuid4().hex[:8]
            log.error("unhandled error %s while acknowledging", error_id, exc_info=exc)
            args.context[_FAILED] = sorry(error_id)
        finally:
            if args.ack.response is None:
                args.ack()  # never leave Slack waiting

    ack_part.__name__ = f"{func.__name__}_ack"
    ack_part.__qualname__ = ack_part.__name__
    return ack_part


def _work_part(func: Callable[..., None]) -> Callable[[Args], None]:
    names = list(inspect.signature(func).parameters)

    def work_part(args: Args) -> None:
        failed = args.context.get(_FAILED)
        if failed:
            tell(str(failed), body=args.body, respond=args.respond, client=args.client)
            return
        if args.context.get(_DONE):
            return
        try:
            func(**_kwargs(names, args))
        except Exception as exc:
            report_error(exc, body=args.body, respond=args.respond, client=args.client)

    # Bolt tells lazy listeners apart by name
    work_part.__name__ = func.__name__
    work_part.__qualname__ = func.__qualname__
    return work_part


def register(app: App) -> None:
    from bot.slack.listeners import actions, commands, events, shortcuts, views

    commands.register(app)
    actions.register(app)
    views.register(app)
    events.register(app)
    shortcuts.register(app)
