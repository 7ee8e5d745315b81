from __future__ import annotations

import json
import logging

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.infra.logs import REDACTED, Redactor, configure_logging, log_context

TOKEN = "xoxb-1234-5678-abcdefghijkl"


@pytest.fixture
def restore_root():
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    yield
    root.handlers[:] = handlers
    root.setLevel(level)


def test_json_lines_carry_ids_and_never_secrets(restore_root, capsys) -> None:
    configure_logging("json", "INFO", secrets=["s3cr3t-signing-value"])
    log = logging.getLogger("t")
    with log_context(request_id="req-1"):
        log.info("calling slack with %s and s3cr3t-signing-value", TOKEN)
        try:
            raise RuntimeError("Authorization: Bearer abc.def.ghi failed")
        except RuntimeError:
            log.exception("boom")
    lines = [json.loads(line) for line in capsys.readouterr().err.splitlines()]
    assert [entry["request_id"] for entry in lines] == ["req-1", "req-1"]
    text = json.dumps(lines)
    assert TOKEN not in text and "s3cr3t-signing-value" not in text and "abc.def.ghi" not in text
    assert text.count(REDACTED) >= 3 and "Bearer" in text


def test_text_format_tags_job_id(restore_root, capsys) -> None:
    configure_logging("text")
    with log_context(job_id="poll-7"):
        logging.getLogger("t").warning("slow")
    assert "[job_id=poll-7]" in capsys.readouterr().err


@pytest.mark.parametrize(
    "secret",
    [
        "xapp-1-A0-123-abc",
        "pat-na1-11111111-2222",
        "00D5g000000ABCD!AQ8AQHfake.session",
        "https://x.example/cb?token=abc123&x=1",
    ],
)
def test_known_token_shapes_are_redacted(secret: str) -> None:
    out = Redactor()(f"value {secret} end")
    assert REDACTED in out and "abc123" not in out
    assert secret not in out


@given(st.text(min_size=6, max_size=40).filter(lambda s: s.strip() == s and s not in REDACTED))
def test_configured_secrets_never_survive(secret: str) -> None:
    assert secret not in Redactor([secret])(f"a {secret} b {secret}")
