"""scoring/ must stay pure: none of our other packages, no IO libraries, no clock reads."""

from __future__ import annotations

import ast
from pathlib import Path

import scoring

FORBIDDEN_ROOTS = {
    "bot",
    "db",
    "sources",
    "sqlalchemy",
    "sqlmodel",
    "httpx",
    "requests",
    "slack_sdk",
    "slack_bolt",
    "socket",
    "urllib",
    "http",
    "os",
    "io",
    "subprocess",
    "pathlib",
    "sqlite3",
    "psycopg",
    "time",
    "yaml",
    "json",
    "logging",
    "random",
}


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text())
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module.split(".")[0])
    return found


def test_scoring_imports_nothing_impure() -> None:
    files = list(Path(scoring.__file__).parent.glob("*.py"))
    assert files
    for path in files:
        bad = _imports(path) & FORBIDDEN_ROOTS
        assert not bad, f"{path.name} imports {bad}"


def test_scoring_never_reads_the_clock() -> None:
    for path in Path(scoring.__file__).parent.glob("*.py"):
        text = path.read_text()
        for call in ("date.today(", "datetime.now(", "datetime.utcnow(", "time.time("):
            assert call not in text, f"{path.name} calls {call}"
