"""``bot/`` runs no SQL of its own (README, Design): it asks ``core/`` for every read and write.
It may name SQLAlchemy's session types (what a handler is given), its errors and its session
events, never a statement builder or a dialect."""

from __future__ import annotations

import ast
from pathlib import Path

BOT = Path(__file__).resolve().parents[2] / "bot"
ALLOWED = {  # module -> names bot may import from it
    "sqlalchemy.ext.asyncio": {"AsyncSession", "AsyncConnection"},
    "sqlalchemy.orm": {"Session", "SessionTransaction"},
    "sqlalchemy.exc": {"ArgumentError", "DBAPIError"},
    "sqlalchemy": {"event"},
}


def _sqlalchemy_imports(path: Path) -> list[str]:
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and (node.module or "").split(".")[0] == "sqlalchemy":
            found += [f"{node.module}.{alias.name}" for alias in node.names
                      if alias.name not in ALLOWED.get(node.module or "", set())]
        elif isinstance(node, ast.Import):
            found += [alias.name for alias in node.names if alias.name.split(".")[0] == "sqlalchemy"]
    return found


def test_bot_builds_no_sql() -> None:
    offending = {str(path.relative_to(BOT.parent)): names for path in sorted(BOT.rglob("*.py"))
                 if (names := _sqlalchemy_imports(path))}
    assert offending == {}
