"""The threaded HTTP server every fake API is built on.

Each fake is a real HTTP server on 127.0.0.1 (ephemeral port) so that the code under test
exercises its real HTTP stack: timeouts, retries, keep-alive, header parsing. The base class
gives every fake the same tools: request recording, the scripted fault queue (`faults.py`)
and bearer-token checking. The synthetic data set shared by all sources is in `data.py`.

Stdlib only: a user's clone must be able to run these without extra dependencies.
"""

from __future__ import annotations

import contextlib
import json
import socket
import threading
import traceback
from collections.abc import Mapping
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, NamedTuple, Self
from urllib.parse import parse_qsl, urlsplit

from .faults import BodyFunction, Fault, FaultQueue, JsonBody, encode_body

__all__ = ["LOOPBACK", "FakeServer", "RecordedRequest", "Request", "Response"]

LOOPBACK = "127.0.0.1"


# ---------------------------------------------------------------------------
# Requests, responses
# ---------------------------------------------------------------------------


class RecordedRequest(NamedTuple):
    """One request as the fake saw it; unpacks as (method, path, query, headers, body).

    `query` maps each key to its value; repeated keys are joined with "," (HubSpot treats
    `properties=a&properties=b` and `properties=a,b` the same). `headers` keys are lowercase.
    """

    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        """Decode the body as JSON (raises on a non-JSON body)."""
        return json.loads(self.body.decode("utf-8"))


# The handlers receive the same shape.
Request = RecordedRequest


@dataclass(slots=True)
class Response:
    """What a fake handler returns; the base class serialises it with a Content-Length."""

    status: int = 200
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)
    content_type: str = "application/json;charset=utf-8"

    @classmethod
    def json(
        cls,
        payload: Any,
        status: int = 200,
        headers: Mapping[str, str] | None = None,
        content_type: str = "application/json;charset=utf-8",
    ) -> Response:
        """Serialise `payload` once (compact separators keep big pages cheap)."""
        return cls(
            status=status,
            body=json.dumps(payload, separators=(",", ":")).encode("utf-8"),
            headers=dict(headers or {}),
            content_type=content_type,
        )

    @classmethod
    def raw_json(
        cls, body: bytes, status: int = 200, headers: Mapping[str, str] | None = None
    ) -> Response:
        """Wrap an already-serialised JSON body (used by pre-encoded pages)."""
        return cls(status=status, body=body, headers=dict(headers or {}))


# ---------------------------------------------------------------------------
# HTTP plumbing
# ---------------------------------------------------------------------------


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False
    allow_reuse_address = True
    fake: FakeServer


class _Handler(BaseHTTPRequestHandler):
    """Thin adapter: parse, hand to the fake, write back with Content-Length (keep-alive)."""

    protocol_version = "HTTP/1.1"
    # TCP_NODELAY: headers and body go out in separate writes; without this, Nagle plus
    # delayed ACK adds ~40 ms to every keep-alive request.
    disable_nagle_algorithm = True
    server: _Server
    # Idle keep-alive connections are closed after this many seconds.
    timeout = 60

    def setup(self) -> None:
        super().setup()
        self.server.fake._track(self.connection, add=True)

    def finish(self) -> None:
        try:
            super().finish()
        finally:
            self.server.fake._track(self.connection, add=False)

    def log_message(self, format: str, *args: Any) -> None:
        """Silence per-request logging; tests inspect `.requests` instead."""

    def _read_body(self) -> bytes:
        if "chunked" in (self.headers.get("Transfer-Encoding") or "").lower():
            chunks: list[bytes] = []
            while True:
                size_line = self.rfile.readline()
                size = int(size_line.split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    # Trailer section ends with an empty line.
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass
                    break
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
            return b"".join(chunks)
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length > 0 else b""

    def _dispatch(self) -> None:
        fake = self.server.fake
        split = urlsplit(self.path)
        query: dict[str, str] = {}
        for key, value in parse_qsl(split.query, keep_blank_values=True):
            query[key] = f"{query[key]},{value}" if key in query else value
        headers = {k.lower(): v for k, v in self.headers.items()}
        body = self._read_body()
        req = RecordedRequest(self.command, split.path, query, headers, body)
        response = fake._process(req)
        if response is None:  # dropped connection
            self.close_connection = True
            with contextlib.suppress(OSError):
                self.connection.shutdown(socket.SHUT_RDWR)
            return
        self.send_response(response.status)
        self.send_header("Content-Type", response.content_type)
        self.send_header("Content-Length", str(len(response.body)))
        for name, value in response.headers.items():
            self.send_header(name, value)
        if headers.get("connection", "").lower() == "close":
            self.send_header("Connection", "close")
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(response.body)

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = _dispatch


# ---------------------------------------------------------------------------
# Base fake
# ---------------------------------------------------------------------------


class FakeServer:
    """Base class: lifecycle, recording, fault script, bearer auth.

    Subclasses implement `handle(req)` and may override `error_response(status, req)`
    (the API's real body for a given status) and `auth_failure(req)` (the API's real 401).
    """

    #: Appended to `http://127.0.0.1:PORT` to form `.url` (Slack uses "/api/").
    url_suffix = ""

    def __init__(self, *, auth_token: str | None = None, port: int = 0) -> None:
        self.auth_token = auth_token
        self._port = port
        self._httpd: _Server | None = None
        self._thread: threading.Thread | None = None
        self._stopping = threading.Event()
        self._lock = threading.RLock()  # guards the subclass's data
        self._meta_lock = threading.Lock()  # guards recording
        self._faults = FaultQueue()
        self._conns: set[socket.socket] = set()
        self.requests: list[RecordedRequest] = []
        self.request_count = 0
        self.record_requests = True
        #: Tracebacks of exceptions raised inside handlers (answered with HTTP 500).
        self.errors: list[str] = []

    # -- lifecycle -----------------------------------------------------------

    def start(self) -> Self:
        """Bind 127.0.0.1 on an ephemeral port and serve in a daemon thread."""
        if self._httpd is not None:
            return self
        self._stopping.clear()
        httpd = _Server((LOOPBACK, self._port), _Handler)
        httpd.fake = self
        self._httpd = httpd
        self._thread = threading.Thread(
            target=httpd.serve_forever,
            kwargs={"poll_interval": 0.05},
            name=f"{type(self).__name__}-{httpd.server_address[1]}",
            daemon=True,
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving, cut open keep-alive connections and abort pending delays."""
        httpd = self._httpd
        if httpd is None:
            return
        self._stopping.set()
        httpd.shutdown()
        httpd.server_close()
        with self._meta_lock:
            conns = list(self._conns)
        for conn in conns:
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._httpd = None
        self._thread = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def port(self) -> int:
        if self._httpd is None:
            raise RuntimeError(f"{type(self).__name__} is not running; call start() first")
        return int(self._httpd.server_address[1])

    @property
    def origin(self) -> str:
        """`http://127.0.0.1:PORT` with no trailing slash."""
        return f"http://{LOOPBACK}:{self.port}"

    @property
    def url(self) -> str:
        """Base URL to hand to the client under test."""
        return self.origin + self.url_suffix

    def _track(self, conn: socket.socket, *, add: bool) -> None:
        with self._meta_lock:
            if add:
                self._conns.add(conn)
            else:
                self._conns.discard(conn)

    # -- faults -------------------------------------------------------------

    def inject(
        self,
        path_prefix: str = "/",
        *,
        status: int | None = None,
        headers: Mapping[str, str] | None = None,
        body: JsonBody | BodyFunction = None,
        delay: float = 0.0,
        times: int | None = 1,
        after: int = 0,
        method: str | None = None,
        drop: bool = False,
        late: float = 0.0,
    ) -> Fault:
        """Queue a fault (see `Fault`). Faults are checked in insertion order."""
        return self._faults.add(
            Fault(
                path_prefix=path_prefix,
                status=status,
                headers=dict(headers or {}),
                body=body,
                delay=delay,
                times=times,
                after=after,
                method=method,
                drop=drop,
                late=late,
            )
        )

    def fail_after(
        self,
        n: int,
        path_prefix: str = "/",
        *,
        status: int = 500,
        headers: Mapping[str, str] | None = None,
        body: JsonBody = None,
        times: int | None = 1,
        drop: bool = False,
    ) -> Fault:
        """Let `n` matching requests succeed, then fail (a sync dying mid-way)."""
        return self.inject(
            path_prefix, status=status, headers=headers, body=body, times=times, after=n, drop=drop
        )

    def clear_faults(self) -> None:
        self._faults.clear()

    @property
    def pending_faults(self) -> list[Fault]:
        return self._faults.pending()

    # -- recording ------------------------------------------------------------

    def reset_requests(self) -> None:
        with self._meta_lock:
            self.requests.clear()
            self.request_count = 0

    def requests_to(self, path_prefix: str) -> list[RecordedRequest]:
        with self._meta_lock:
            return [r for r in self.requests if r.path.startswith(path_prefix)]

    # -- auth -----------------------------------------------------------------

    @staticmethod
    def bearer(req: RecordedRequest) -> str | None:
        value = req.headers.get("authorization")
        if not value:
            return None
        scheme, _, token = value.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            return None
        return token.strip()

    def requires_auth(self, req: RecordedRequest) -> bool:
        """Override to exempt paths (e.g. token endpoints, webhooks)."""
        return True

    def check_auth(self, req: RecordedRequest) -> bool:
        if self.auth_token is None or not self.requires_auth(req):
            return True
        return self.bearer(req) == self.auth_token

    def auth_failure(self, req: RecordedRequest) -> Response:
        return Response.json({"error": "unauthorized"}, status=401)

    def error_response(self, status: int, req: RecordedRequest) -> Response:
        """The API's own error body for `status`; used when a fault gives no body."""
        return Response.json({"status": status, "error": "injected"}, status=status)

    # -- dispatch -------------------------------------------------------------

    def handle(self, req: RecordedRequest) -> Response:
        raise NotImplementedError

    def _fault_response(self, fault: Fault, req: RecordedRequest) -> Response:
        assert fault.status is not None
        if fault.body is None:
            resp = self.error_response(fault.status, req)
            resp.status = fault.status
        else:
            body = fault.body(req, fault.fired) if callable(fault.body) else fault.body
            payload, ctype = encode_body(body)
            resp = Response(status=fault.status, body=payload, content_type=ctype)
        resp.headers.update(fault.headers)
        return resp

    def _process(self, req: RecordedRequest) -> Response | None:
        with self._meta_lock:
            self.request_count += 1
            if self.record_requests:
                self.requests.append(req)
        fault = self._faults.take(req.method, req.path)
        if fault is not None and fault.late > 0:
            response = self._serve(req)  # the work is done now; the answer comes late
            if self._stopping.wait(fault.late) or fault.drop:
                return None
            return response
        if fault is not None:
            if fault.delay > 0 and self._stopping.wait(fault.delay):
                return None
            if fault.drop:
                return None
            if fault.status is not None:
                return self._fault_response(fault, req)
        return self._serve(req)

    def _serve(self, req: RecordedRequest) -> Response:
        try:
            if not self.check_auth(req):
                return self.auth_failure(req)
            return self.handle(req)
        except Exception:
            tb = traceback.format_exc()
            with self._meta_lock:
                self.errors.append(tb)
            return Response(status=500, body=tb.encode("utf-8"), content_type="text/plain")
