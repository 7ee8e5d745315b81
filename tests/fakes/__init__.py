"""Local fake servers speaking the real wire formats of HubSpot, Salesforce, Slack and the
product-usage API, for tests and benchmarks (stdlib only, loopback only)."""

from .blockkit import validate_blocks
from .data import synthetic_accounts, synthetic_owners
from .faults import Fault
from .hubspot import FakeHubSpot
from .salesforce import FakeSalesforce
from .server import FakeServer, RecordedRequest, Response
from .slack import FakeSlack, sign_request
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
