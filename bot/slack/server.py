"""HTTP serving: Bolt's Starlette adapter under uvicorn, plus health and metrics.

``POST /slack/events`` carries commands, interactivity and events. Slack signs each; the
signature and timestamp are checked here, before Bolt parses a byte of the body, and a request
that fails gets a bare 401: nothing of it is read, logged or acted on (the app checks again, in
case it is ever served some other way). Bolt's ``dispatch`` is synchronous, so it runs in a
worker thread and never blocks the event loop. In Socket Mode the same server answers
``/healthz`` and ``/metrics`` only.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Sequence

import uvicorn
from prometheus_client import CONTENT_TYPE_LATEST
from slack_bolt import App
from slack_bolt.adapter.starlette.handler import to_bolt_request, to_starlette_response
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from bot.infra import metrics
from bot.infra.health import HealthCheck
from bot.slack.app import request_check
from db.engine import SessionFactory

log = logging.getLogger(__name__)


def build_asgi(app: App | None, factory: SessionFactory, sources: Sequence[str] = ()) -> Starlette:
    """The routes; ``sources`` are the configured source names /healthz reports on."""

    check = request_check(app) if app is not None else None

    async def slack_events(request: Request) -> Response:
        assert app is not None
        body = await request.body()
        problem = (
            check.problem(
                request.headers.get("x-slack-request-timestamp"),
                request.headers.get("x-slack-signature"),
                body,
            )
            if check is not None
            else "no signing secret to check it with"
        )
        if problem:
            log.warning("refused a request: %s", problem)
            return Response(status_code=401)
        try:
            bolt_request = to_bolt_request(request, body)
        except Exception as exc:  # Bolt reads some fields while building it: no Slack payload
            log.warning("refused a request Bolt could not read (%s)", type(exc).__name__)
            return Response(status_code=400)
        bolt_response = await run_in_threadpool(app.dispatch, bolt_request)
        return to_starlette_response(bolt_response)

    health = HealthCheck(factory, sources)

    async def healthz(request: Request) -> Response:
        status, body = await run_in_threadpool(health.check)
        return JSONResponse(body, status)

    async def metrics_page(request: Request) -> Response:
        body = await run_in_threadpool(metrics.render)
        return Response(body, media_type=CONTENT_TYPE_LATEST)

    routes = [
        Route("/healthz", healthz, methods=["GET"]),
        Route("/metrics", metrics_page, methods=["GET"]),
    ]
    if app is not None:
        routes.append(Route("/slack/events", slack_events, methods=["POST"]))
    return Starlette(routes=routes)


def make_server(asgi: Starlette, host: str, port: int) -> uvicorn.Server:
    config = uvicorn.Config(
        asgi, host=host, port=port, log_config=None, access_log=False, lifespan="off"
    )
    return uvicorn.Server(config)


class ServerThread:
    """uvicorn on a real socket in a background thread (tests, benchmarks)."""

    def __init__(self, asgi: Starlette, host: str = "127.0.0.1", port: int = 0) -> None:
        self.server = make_server(asgi, host, port)
        self.thread = threading.Thread(target=self.server.run, name="uvicorn", daemon=True)

    def start(self, timeout: float = 10.0) -> ServerThread:
        self.thread.start()
        waited = 0.0
        while not self.server.started:
            if not self.thread.is_alive() or waited > timeout:
                raise RuntimeError("the HTTP server did not start")
            threading.Event().wait(0.02)
            waited += 0.02
        return self

    @property
    def url(self) -> str:
        sockets = [s for server in self.server.servers for s in server.sockets]
        host, port = sockets[0].getsockname()[:2]
        return f"http://{host}:{port}"

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)
