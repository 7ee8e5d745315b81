"""The routing example in docs/slack.md is a valid config file."""

from __future__ import annotations

import re
from pathlib import Path

from bot.infra.settings import load_app_config

DOC = Path(__file__).parents[3] / "docs" / "slack.md"


def test_the_documented_config_loads(tmp_path: Path) -> None:
    blocks = re.findall(r"```yaml\n(.*?)```", DOC.read_text(encoding="utf-8"), re.DOTALL)
    assert blocks
    path = tmp_path / "radar.yml"
    path.write_text(blocks[0], encoding="utf-8")
    config = load_app_config(path)
    assert config.routing.rules[0].channel == "#expansion-enterprise"
    assert config.routing.owner_map == {"luis.ortega@example.com": "U0456EFGH"}
    assert config.slack.escalation.target == "#cs-leads"
    assert config.slack.quiet_hours.start.hour == 20
    assert config.slack.account_channels["#kestrel-media-ext"] == "kestrel-media"
