"""``expansion-radar`` as a user runs it, for the tests that run it end to end: a real process
with a bare environment (no developer tokens or database), this checkout on its path."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path

ROOT = Path(__file__).parents[1]


def run_cli(
    *args: str, cwd: Path, columns: int = 200, env: Mapping[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """``python -m bot *args`` in ``cwd`` (``env`` added to the bare one), its output as text."""
    return subprocess.run(
        [sys.executable, "-m", "bot", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
        env={
            "PATH": "/usr/bin:/bin",
            "COLUMNS": str(columns),
            "PYTHONPATH": str(ROOT),
            **(env or {}),
        },
    )
