"""manifest.yml is valid against Slack's v1 manifest schema and declares everything the code
uses: the command, the message shortcut, the events, and a scope for every Web API method
called."""

from __future__ import annotations

import json
import re
from pathlib import Path

import jsonschema  # type: ignore[import-untyped]
import yaml

from bot.slack.ids import METHODS, MORE_SCOPES, Command, Event, Scope, Shortcut

ROOT = Path(__file__).parents[3]
SCHEMA = Path(__file__).parent / "schema" / "manifest.schema.1.0.0.json"


def manifest() -> dict:
    data = yaml.safe_load((ROOT / "manifest.yml").read_text(encoding="utf-8"))
    assert isinstance(data, dict)
    return data


def test_manifest_is_valid_against_the_v1_schema() -> None:
    schema = json.loads(SCHEMA.read_text(encoding="utf-8"))
    jsonschema.Draft7Validator(schema).validate(manifest())


def test_the_schema_rejects_a_broken_manifest() -> None:
    schema = json.loads(SCHEMA.read_text(encoding="utf-8"))
    broken = manifest()
    broken["settings"]["bad_param"] = True
    assert list(jsonschema.Draft7Validator(schema).iter_errors(broken))


def test_every_command_event_and_scope_the_code_uses_is_declared() -> None:
    m = manifest()
    commands = {c["command"] for c in m["features"]["slash_commands"]}
    assert {c.value for c in Command} <= commands
    assert {e.value for e in Event} <= set(m["settings"]["event_subscriptions"]["bot_events"])
    scopes = set(m["oauth_config"]["scopes"]["bot"])
    assert {s.value for s in Scope} <= scopes
    assert {s.value for s in METHODS.values() if s is not None} <= scopes
    assert {s.value for more in MORE_SCOPES.values() for s in more} <= scopes
    assert set(MORE_SCOPES) <= set(METHODS)
    # the sender reads its posts back: history in every kind of conversation, with metadata
    for scope in ("channels:history", "groups:history", "im:history", "metadata.message:read"):
        assert scope in scopes
    assert m["features"]["app_home"]["home_tab_enabled"] is True
    assert m["settings"]["interactivity"]["is_enabled"] is True


def test_the_message_shortcut_is_declared_as_a_message_shortcut() -> None:
    """Bolt's ``message_shortcut`` listener only hears ``type: message`` shortcuts: one
    declared as global would never reach it. Shortcuts need interactivity and ``commands``."""
    m = manifest()
    declared = {s["callback_id"]: s for s in m["features"].get("shortcuts", [])}
    for shortcut in Shortcut:
        assert shortcut.value in declared, f"{shortcut.value} is not in manifest.yml"
        assert declared[shortcut.value]["type"] == "message"
    assert declared[Shortcut.LOG_SIGNAL.value]["name"] == "Log as expansion signal"
    assert "commands" in m["oauth_config"]["scopes"]["bot"]
    assert m["settings"]["interactivity"]["is_enabled"] is True


def test_every_web_api_method_called_in_the_code_is_known() -> None:
    """A new ``client.foo_bar(...)`` call must be added to ids.METHODS with its scope."""
    called = set()
    for path in (ROOT / "bot").rglob("*.py"):
        for name in re.findall(r"\bclient\.([a-z]+_[A-Za-z0-9_]+)\(", path.read_text("utf-8")):
            # canvases_access_set is canvases.access.set; files_upload_v2 keeps its "_v2"
            dotted = name.replace("_", ".")
            called.add(dotted if dotted in METHODS else name.replace("_", ".", 1))
    assert called, "no Web API calls found: has the code moved?"
    assert called <= set(METHODS), called - set(METHODS)


def test_least_privilege() -> None:
    scopes = set(manifest()["oauth_config"]["scopes"]["bot"])
    assert scopes == {s.value for s in Scope}
