"""Local fake servers speaking the real wire formats of HubSpot, Salesforce, Slack and the
product-usage API, for tests and benchmarks (stdlib only, loopback only)."""

from .base import FakeServer, Fault, RecordedRequest, Response, synthetic_accounts, synthetic_owners
from .hubspot import FakeHubSpot
from .salesforce import FakeSalesforce
from .slack import FakeSlack, sign_request, validate_blocks
from .usage import FakeUsageAPI

__all__ = [
    "FakeHubSpot",
    "FakeSalesforce",
    "FakeServer",
    "FakeSlack",
    "FakeUsageAPI",
    "Fault",
    "RecordedRequest",
    "Response",
    "sign_request",
    "synthetic_accounts",
    "synthetic_owners",
    "validate_blocks",
]
