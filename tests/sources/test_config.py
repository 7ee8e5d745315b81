"""The ``sources:`` config: every documented example is valid, impossible values are refused."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml
from pydantic import ValidationError

from bot.infra.settings import AppConfig
from sources.config import SourcesConfig, UsageConfig
from sources.config_base import HttpConfig
from sources.crm_config import SalesforceConfig

DOC = Path(__file__).parents[2] / "docs" / "sources.md"


def test_every_yaml_example_in_the_docs_is_valid() -> None:
    blocks = re.findall(r"```yaml\n(.*?)```", DOC.read_text(encoding="utf-8"), re.S)
    assert len(blocks) >= 6
    for block in blocks:
        AppConfig.model_validate(yaml.safe_load(block))


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ({"schedule": {"cron": "every day"}}, "is not a cron expression"),
        ({"schedule": {"timezone": "Mars/Olympus"}}, "unknown time zone"),
        ({"hubspot": {"page_size": 500}}, "less than or equal to 100"),
        ({"hubspot": {"properties": {"plan": "Plan Name"}}}, "not a HubSpot property name"),
        ({"salesforce": {"fields": {"plan": "Plan__c; DROP"}}}, "not a Salesforce field"),
        ({"salesforce": {"api_version": "latest"}}, "is not an API version"),
        ({"http": {"backoff_initial_seconds": 5, "backoff_max_seconds": 1}}, "backoff_max"),
        ({"order": ["zendesk"]}, "unknown source(s) zendesk"),
        ({"usage": {"fields": {"crm_id": "crm"}}}, "set crm_source"),
        ({"hubspot": {"colour": "blue"}}, "Extra inputs are not permitted"),
    ],
)
def test_impossible_values_are_refused(raw: dict[str, object], message: str) -> None:
    with pytest.raises(ValidationError, match=re.escape(message)):
        SourcesConfig.model_validate(raw)


def test_defaults() -> None:
    config = SourcesConfig()
    assert config.http == HttpConfig()
    assert SalesforceConfig().api_version == "v62.0"
    assert SalesforceConfig(api_version="61.0").api_version == "v61.0"
    assert UsageConfig().creates_accounts is False
    assert config.hubspot.creates_accounts is True
