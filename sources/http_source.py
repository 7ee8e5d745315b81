"""What the HubSpot, Salesforce and usage API sources share when they are built: the options
they take besides a URL, a token and their config section, a name, the join policy, a clock,
one ``HttpClient`` for their base URL, and its request counts."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TypedDict, Unpack

import httpx

from sources.base import JoinPolicy, now_ms
from sources.config_base import HttpConfig, JoinConfig
from sources.http import Classifier, HttpClient, Observer, RequestStats
from sources.ratelimit import RollingWindow


class HttpSourceOptions(TypedDict, total=False):
    """What an API source may be built with besides its URL, token and config: the shared HTTP
    settings, another name (a second instance of it), and, for tests, a clock (epoch ms), a
    transport and a ``sleep`` that does not wait."""

    http: HttpConfig | None
    name: str
    clock: Callable[[], int]
    transport: httpx.BaseTransport | None
    sleep: Callable[[float], None] | None


class HttpSource:
    """The common part of an HTTP source; each source's ``__init__`` calls ``_connect``."""

    name: str
    policy: JoinPolicy
    clock: Callable[[], int]
    client: HttpClient
    _http: HttpConfig
    _max_empty: int

    def _connect(
        self,
        *,
        default_name: str,
        join: JoinConfig,
        url: str,
        label: str,
        token: str | None,
        classify: Classifier | None = None,
        observe: Observer | None = None,
        headers: Mapping[str, str] | None = None,
        limiter: RollingWindow | None = None,
        **options: Unpack[HttpSourceOptions],
    ) -> None:
        """Set the shared attributes and open the client (``label`` names the service in
        errors and logs)."""
        self.name = options.get("name", default_name)
        self.policy = JoinPolicy.of(join)
        self.clock = options.get("clock", now_ms)
        self._http = options.get("http") or HttpConfig()
        self._max_empty = self._http.max_empty_pages
        self.client = HttpClient(
            url,
            name=label,
            token=token,
            config=self._http,
            classify=classify,
            observe=observe,
            transport=options.get("transport"),
            sleep=options.get("sleep"),
            headers=headers,
            limiter=limiter,
        )

    @property
    def request_stats(self) -> RequestStats:
        return self.client.stats

    def close(self) -> None:
        self.client.close()
