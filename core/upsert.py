"""``INSERT … ON CONFLICT (…) DO NOTHING`` that SQLAlchemy's statement cache can hold.

SQLAlchemy 2.0's PostgreSQL and SQLite ``insert().on_conflict_do_nothing()`` opt out of the
compiled-statement cache (their ``Insert`` has ``inherit_cache = False`` and the ON CONFLICT
clause no cache key), so such a statement is compiled anew on every execution ("[no key]" in the
echo log) — a few hundred µs of CPU on the event path, several times per event. The subclasses
here give the clause a cache key made of its conflict target, as SQLAlchemy 2.1 does, so the
statement is compiled once per engine and then found in the cache ("[cached since …]").

``do_nothing`` builds such a statement once per table, dialect, target and RETURNING columns
and hands out that one object: execute it with a list of parameter dicts, which SQLAlchemy's
"insertmanyvalues" sends as one multi-row statement (a ``.values(rows)`` statement would be a
new statement per row count).
"""

from __future__ import annotations

from collections.abc import Iterable
from functools import cache
from typing import Any

from sqlalchemy import Column, Table
from sqlalchemy.dialects.postgresql import dml as postgresql_dml
from sqlalchemy.dialects.sqlite import dml as sqlite_dml
from sqlalchemy.sql.dml import Insert
from sqlalchemy.sql.visitors import InternalTraversal


class _SqliteDoNothing(sqlite_dml.OnConflictDoNothing):
    _traverse_internals = [
        ("inferred_target_elements", InternalTraversal.dp_multi_list),
        ("inferred_target_whereclause", InternalTraversal.dp_clauseelement),
    ]


class _SqliteInsert(sqlite_dml.Insert):
    inherit_cache = True  # Insert's own traversal, which covers the ON CONFLICT clause


class _PostgresDoNothing(postgresql_dml.OnConflictDoNothing):
    _traverse_internals = [
        ("constraint_target", InternalTraversal.dp_string),
        ("inferred_target_elements", InternalTraversal.dp_multi_list),
        ("inferred_target_whereclause", InternalTraversal.dp_clauseelement),
    ]


class _PostgresInsert(postgresql_dml.Insert):
    inherit_cache = True


def insert_do_nothing(table: Table, dialect: str, index_elements: Iterable[Any]) -> Insert:
    """``INSERT INTO table … ON CONFLICT (index_elements) DO NOTHING`` for ``dialect``
    (``postgresql``, else SQLite), cacheable; add ``.returning(…)`` as needed."""
    elements = list(index_elements)
    stmt: Insert
    if dialect == "postgresql":
        pg = _PostgresInsert(table)
        # what on_conflict_do_nothing() does, with the cacheable clause
        pg._post_values_clause = _PostgresDoNothing(index_elements=elements)
        stmt = pg
    else:
        lite = _SqliteInsert(table)
        lite._post_values_clause = _SqliteDoNothing(index_elements=elements)
        stmt = lite
    return stmt


@cache
def do_nothing(table: Table, dialect: str, target: tuple[str, ...],
               returning: tuple[Column[Any], ...]) -> Insert:
    """``insert_do_nothing(table, dialect, target).returning(*returning)``, built once for each
    combination and then reused (its cache key is memoized with it)."""
    return insert_do_nothing(table, dialect, target).returning(*returning)
