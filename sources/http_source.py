"""What the HubSpot, Salesforce and usage API sources share when they are built: a name, the
join policy, a clock, one ``HttpClient`` for their base URL, and its request counts."""

from __future__ import annotations

from collections.abc import Callable, Mapping

import httpx

from sources.base import JoinPolicy
from sources.config_base import HttpConfig, JoinConfig
from sources.http import Classifier, HttpClient, Observer, RequestStats
from sources.ratelimit import RollingWindow


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
        name: str,
        join: JoinConfig,
        clock: Callable[[], int],
        url: str,
        label: str,
        token: str | None,
        http: HttpConfig | None,
        transport: httpx.BaseTransport | None,
        sleep: Callable[[float], None] | None,
        classify: Classifier | None = None,
        observe: Observer | None = None,
        headers: Mapping[str, str] | None = None,
        limiter: RollingWindow | None = None,
    ) -> None:
        """Set the shared attributes and open the client (``label`` names the service in
        errors and logs)."""
        self.name = name
        self.policy = JoinPolicy.of(join)
        self.clock = clock
        self._http = http or HttpConfig()
        self._max_empty = self._http.max_empty_pages
        self.client = HttpClient(
            url,
            name=label,
            token=token,
            config=self._http,
            classify=classify,
            observe=observe,
            transport=transport,
            sleep=sleep,
            headers=headers,
            limiter=limiter,
        )

    @property
    def request_stats(self) -> RequestStats:
        return self.client.stats

    def close(self) -> None:
        self.client.close()
