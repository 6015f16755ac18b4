"""Golden-file helper: compare against ``tests/cards/snapshots/<name>``;
``JIFEN_UPDATE_SNAPSHOTS=1`` rewrites the files instead (review the diff, then commit)."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

SNAPSHOTS = Path(__file__).resolve().parent / "snapshots"


def updating() -> bool:
    return os.environ.get("JIFEN_UPDATE_SNAPSHOTS") == "1"


def to_json(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, indent=2) + "\n"


def assert_snapshot(name: str, actual: str) -> None:
    path = SNAPSHOTS / name
    if updating():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(actual, encoding="utf-8")
        return
    if not path.exists():
        pytest.fail(f"missing snapshot {path.name}; run with JIFEN_UPDATE_SNAPSHOTS=1 to create it")
    expected = path.read_text(encoding="utf-8")
    assert actual == expected, f"{path.name} differs; JIFEN_UPDATE_SNAPSHOTS=1 rewrites it"
