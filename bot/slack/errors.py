"""One error type whose message is meant for people, and one way of telling them.

``UserError`` messages are shown as they are (mrkdwn-safe text); anything else is logged with
its traceback under a short id, and the person sees only the id to quote.
"""

from __future__ import annotations

import logging
import uuid
from typing import Any

from slack_sdk import WebClient
from sqlalchemy.exc import DisconnectionError, InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout

log = logging.getLogger(__name__)


UNAVAILABLE = (
    "Expansion Radar's data is temporarily unavailable: its database is not answering."
    " Please try again in a minute."
)


def is_unavailable(error: BaseException) -> bool:
    """The database is down or unreachable (not a bug): tell people to retry, not an id."""
    return isinstance(error, OperationalError | InterfaceError | PoolTimeout | DisconnectionError)


class UserError(Exception):
    """Something the person can fix or should know; ``message`` is mrkdwn-safe text."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def report_error(
    error: BaseException, *, body: dict[str, Any], respond: Any, client: WebClient
) -> None:
    """Tell the person what went wrong (see ``tell``). Only ever called for a request that
    passed the signature check: the body says where to answer."""
    tell(describe(error), body=body, respond=respond, client=client)


def describe(error: BaseException) -> str:
    """What to tell the person about ``error``; an unexpected one is logged under an id."""
    if isinstance(error, UserError):
        return error.message
    if is_unavailable(error):
        # the driver's own words: SQLAlchemy's message also quotes the statement's parameters
        driver = getattr(error, "orig", None)
        log.warning("database unavailable: %s", driver or type(error).__name__)
        return UNAVAILABLE
    error_id = uuid.uuid4().hex[:8]
    log.error("unhandled error %s", error_id, exc_info=error)
    return sorry(error_id)


def sorry(error_id: str) -> str:
    return f"Sorry, that did not work (error id `{error_id}`). Please try again in a minute."


def tell(text: str, *, body: dict[str, Any], respond: Any, client: WebClient) -> None:
    """Via response_url when the request has one, else as an ephemeral message in the
    channel, else as a DM."""
    user = (body.get("user") or {}).get("id") or body.get("user_id")
    channel = (body.get("channel") or {}).get("id") or body.get("channel_id")
    try:
        if respond is not None and body.get("response_url"):
            respond(text=text, response_type="ephemeral", replace_original=False)
        elif user and channel:
            client.chat_postEphemeral(channel=channel, user=user, text=text)
        elif user:
            dm = client.conversations_open(users=user)["channel"]["id"]
            client.chat_postMessage(channel=dm, text=text)
        else:
            log.info("could not tell anyone: %s", text)
    except Exception as exc:
        log.warning("could not report an error to the user: %s", type(exc).__name__)
