"""``expansion-radar run``: the Slack app, its HTTP (or Socket Mode) front and the scheduler,
in one process."""

from __future__ import annotations

import logging
import signal
import threading
import time
from types import FrameType

from slack_bolt import BoltResponse
from slack_bolt.adapter.socket_mode import SocketModeHandler
from slack_bolt.adapter.socket_mode.internals import run_bolt_app, send_response
from slack_sdk.socket_mode.client import BaseSocketModeClient
from slack_sdk.socket_mode.request import SocketModeRequest
from slack_sdk.socket_mode.response import SocketModeResponse

import db.outbox
from bot.infra import metrics
from bot.infra.settings import AppConfig, Settings
from bot.poll.registry import configured_names
from bot.scheduler import add_source_jobs, build_scheduler
from bot.slack.app import create_app, deps_of
from bot.slack.jobs import add_jobs
from bot.slack.server import build_asgi, make_server
from db.engine import SessionFactory

log = logging.getLogger(__name__)


def serve(
    settings: Settings, config: AppConfig, factory: SessionFactory, *, host: str = "0.0.0.0"
) -> None:
    socket_mode = settings.slack_app_token is not None
    app = create_app(settings, config, factory, socket_mode=socket_mode)
    deps = deps_of(app)
    threading.Thread(target=deps.search.rebuild, name="account-index", daemon=True).start()

    def backlog() -> int:
        with factory() as session:
            return db.outbox.outbox_backlog(session)

    metrics.watch_outbox(backlog)
    scheduler = build_scheduler(settings, config, factory)
    add_jobs(scheduler, factory=factory, config=config, sender=deps.sender)
    deps.on_reload.append(lambda new: add_source_jobs(scheduler, settings, new, factory))
    scheduler.start()
    handler = None
    try:
        if socket_mode:
            assert settings.slack_app_token is not None
            handler = AckingSocketModeHandler(app, settings.slack_app_token.get_secret_value())
            handler.connect()  # type: ignore[no-untyped-call]
            log.info("connected to Slack in Socket Mode; health on port %s", settings.port)
        else:
            log.info("serving Slack at POST /slack/events on port %s", settings.port)
        sources = configured_names(settings, config)
        asgi = build_asgi(None if socket_mode else app, factory, sources)
        # uvicorn shuts down gracefully on SIGTERM, then re-raises it: end with a clean exit
        # (and run the clean-up below) instead of dying on the default handler.
        signal.signal(signal.SIGTERM, _exit_cleanly)
        make_server(asgi, host, settings.port).run()
    finally:
        scheduler.shutdown(wait=False)
        if handler is not None:
            handler.close()  # type: ignore[no-untyped-call]


class AckingSocketModeHandler(SocketModeHandler):
    """Bolt's Socket Mode handler, except that every envelope is acknowledged. Bolt's leaves
    one unacknowledged when the app refuses it (another workspace's: 403; a malformed one:
    400), so Slack delivers it again and again; here it is acked empty and dropped (the app
    has logged why, naming only the team)."""

    def handle(self, socket: BaseSocketModeClient, req: SocketModeRequest) -> None:
        started = time.time()
        try:
            response: BoltResponse = run_bolt_app(self.app, req)
        except Exception as exc:
            log.error("a Socket Mode envelope failed (%s); dropped", type(exc).__name__)
            response = BoltResponse(status=500, body="")
        if response.status == 200:
            send_response(socket, req, response, started)
            return
        socket.send_socket_mode_response(SocketModeResponse(envelope_id=req.envelope_id))
        log.info("acknowledged and dropped a Socket Mode envelope (HTTP %s)", response.status)


def _exit_cleanly(signum: int, frame: FrameType | None) -> None:
    raise SystemExit(0)
