"""Listeners, one module per kind; each registers its own.

Every listener is registered through ``guarded``: Bolt injects the listener's own arguments as
usual, and a failure is reported to the person (``report_error``) instead of being raised back
into Bolt — after ``ack()`` Bolt's runner would reset the acknowledgement and could answer
Slack with a 500 (or wait out the 3 seconds) in a race with the request thread.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any

from slack_bolt import App
from slack_bolt.kwargs_injection.args import Args

from bot.slack.errors import UNAVAILABLE, is_unavailable, report_error


def guarded(func: Callable[..., None]) -> Callable[[Args], None]:
    names = list(inspect.signature(func).parameters)

    def listener(args: Args) -> None:
        kwargs: dict[str, Any] = {
            name: args.context[name] if name == "deps" else getattr(args, name) for name in names
        }
        try:
            func(**kwargs)
        except Exception as exc:
            if args.ack.response is None and args.command and is_unavailable(exc):
                # a slash command not yet answered: say so in the answer itself
                args.ack(response_type="ephemeral", text=UNAVAILABLE)
                return
            if args.ack.response is None:
                args.ack()  # never leave Slack waiting
            report_error(exc, body=args.body, respond=args.respond, client=args.client)

    listener.__name__ = func.__name__
    listener.__qualname__ = func.__qualname__
    return listener


def register(app: App) -> None:
    from bot.slack.listeners import actions, commands, events, views

    commands.register(app)
    actions.register(app)
    views.register(app)
    events.register(app)
