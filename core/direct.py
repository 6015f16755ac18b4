"""Statements returning plain values, run straight on SQLite's driver when their unit of work
is on a lane.

On a lane (``core.sqlite.Lane``) every SQLite call of a unit of work returns in place, so what a
statement costs is SQLAlchemy's own work around the driver call: the async connection's
greenlet, the compiled cache lookup, the execution context, the parameters' construction and
the result object — several times the driver call itself for the one-row statements every chat
event makes (the sender, the balance, the inbox row marked done). A statement built once (a
module-level ``select``, or an ``update … returning``, with ``bindparam``\\ s, as the hot paths
use) is compiled here once into its SQL, the order of its parameters and the type conversions of
its parameters and columns — the SQL and the conversions SQLAlchemy uses — and then run with
``sqlite3`` directly. An expanding ``IN`` gets one ``?`` per value, its SQL kept per length.

Everything else takes SQLAlchemy's path: PostgreSQL, units of work off a lane (the CLI, tests
calling ``Database.uow()``), a statement built per call, an expanding ``IN`` given an empty
list. The engine's ``before_cursor_execute`` listeners (statement counters) still see every
statement; SQL echo does not, and a driver error is sqlite3's own, not wrapped by SQLAlchemy.
"""

from __future__ import annotations

import sqlite3
import weakref
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, cast

from sqlalchemy.engine import Connection, Dialect
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.sql import ClauseElement, Executable
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.dml import Insert

from core.sqlite import in_place

Convert = Callable[[Any], Any] | None


@dataclass(frozen=True)
class _Plan:
    sql: str
    names: tuple[str, ...]  # a name per placeholder, in order (a name used twice comes twice)
    fixed: Mapping[str, Any]  # values bound in the statement itself
    binds: tuple[Convert, ...]  # per placeholder (per element of an expanding one)
    columns: tuple[Convert, ...]  # per result column
    expanding: frozenset[str]  # placeholders taking a list (an ``IN``)
    sized: dict[tuple[int, ...], str] = field(default_factory=dict)  # SQL per list lengths

    def bound(self, params: Mapping[str, Any]) -> tuple[str, list[Any]] | None:
        """The SQL and its parameters; None for an empty list (SQLAlchemy writes special SQL)."""
        if self.fixed:
            params = {**self.fixed, **params}
        if self.expanding:
            return self._bound_expanding(params)
        # map and zip: the per-parameter work in C, where a loop cost ~15 bytecodes a parameter
        values = map(params.__getitem__, self.names)
        if not any(self.binds):
            return self.sql, list(values)
        return self.sql, [v if c is None or v is None else c(v)
                          for v, c in zip(values, self.binds, strict=True)]

    def _bound_expanding(self, params: Mapping[str, Any]) -> tuple[str, list[Any]] | None:
        args: list[Any] = []
        lengths: list[int] = []
        for name, convert in zip(self.names, self.binds, strict=True):
            value = params[name]
            if name in self.expanding:
                if not value:
                    return None
                lengths.append(len(value))
                args.extend(v if convert is None or v is None else convert(v) for v in value)
            else:
                args.append(value if convert is None or value is None else convert(value))
        return (self._sql(tuple(lengths)) if lengths else self.sql), args

    def values(self, n: int, most: int) -> str | None:
        """The SQL inserting ``n`` rows in one statement (the VALUES group ``n`` times), or None
        if the statement has no such group or would take more than ``most`` parameters."""
        if n * len(self.names) > most:
            return None
        sql = self.sized.get((-n,))  # a negative length: never an expanding list's
        if sql is None:
            start = self.sql.find(" VALUES (")
            end = self.sql.find(")", start) if start >= 0 else -1
            group = self.sql[start + 8:end + 1]
            if start < 0 or set(group) - set("(?, )"):
                return None
            sql = self.sized[(-n,)] = (
                self.sql[:start + 8] + ", ".join([group] * n) + self.sql[end + 1:])
        return sql

    def rows(self, found: list[tuple[Any, ...]]) -> list[tuple[Any, ...]]:
        if not any(self.columns):
            return found
        return [tuple(v if c is None else c(v) for v, c in zip(row, self.columns, strict=True))
                for row in found]

    def _sql(self, lengths: tuple[int, ...]) -> str:
        sql = self.sized.get(lengths)
        if sql is None:
            sql, sizes = self.sql, iter(lengths)
            for name in self.names:
                if name in self.expanding:
                    sql = sql.replace(f"__[POSTCOMPILE_{name}]", ", ".join("?" * next(sizes)), 1)
            self.sized[lengths] = sql
        return sql


# A plan per statement object (and, for rows given as a list, their column names), kept while
# the statement lives (the hot ones are module-level), by id with a weak reference that drops the
# entry when the statement goes (a WeakKeyDictionary lookup cost more Python work than the rest
# of the in-place call). A statement is planned the second time it runs: one built per call is
# never seen twice and keeps SQLAlchemy's path, whose cache finds its compiled form by its
# structure.
_UNSEEN = object()
_PLANS: dict[int, tuple[weakref.ref[Executable], dict[tuple[str, ...], object]]] = {}


def _plan(statement: Executable, dialect: Dialect, keys: tuple[str, ...] = ()) -> _Plan | None:
    ident = id(statement)
    found = _PLANS.get(ident)
    if found is None or found[0]() is not statement:
        found = _PLANS[ident] = (weakref.ref(statement, lambda _ref: _PLANS.pop(ident, None)), {})
    plans = found[1]
    plan = plans.get(keys, _UNSEEN)
    if plan is not _UNSEEN:
        return cast(_Plan | None, plan)
    if keys not in plans:
        plans[keys] = _UNSEEN
        return None
    assert isinstance(statement, ClauseElement)
    compiled = statement.compile(dialect=dialect, column_keys=list(keys) or None)
    plans[keys] = made = _compile(compiled, dialect) if isinstance(compiled, SQLCompiler) else None
    return made


def _compile(compiled: SQLCompiler, dialect: Dialect) -> _Plan | None:
    binds = compiled.binds
    names = tuple(compiled.positiontup or ())
    if compiled.positiontup is None or compiled.update_prefetch or any(
            binds[n].literal_execute or binds[n].callable is not None for n in names):
        return None
    fixed = {n: binds[n].value for n in names if not binds[n].required}
    for column in compiled.insert_prefetch:  # a column left out of an INSERT gets its default
        if column.default is None or not column.default.is_scalar:
            return None  # computed per row (a callable): SQLAlchemy's path
        fixed[column.key] = column.default.arg  # type: ignore[attr-defined]
    bind_conv = tuple(binds[n].type.dialect_impl(dialect).bind_processor(dialect) for n in names)
    result_conv = tuple(col.type.dialect_impl(dialect).result_processor(dialect, None)
                        for col in getattr(compiled.statement, "exported_columns", ()))
    expanding = frozenset(n for n in names if binds[n].expanding)
    return _Plan(compiled.string, names, fixed, bind_conv, result_conv, expanding)


async def rows(conn: AsyncConnection, statement: Executable,
               params: Mapping[str, Any] | None = None) -> Sequence[Sequence[Any]]:
    """All rows of ``statement`` on ``conn`` (the session's connection, in its transaction)."""
    sync = conn.sync_connection
    raw = in_place(sync) if sync is not None else None
    plan = _plan(statement, conn.dialect) if raw is not None else None
    bound = plan.bound(params or {}) if plan is not None else None
    if bound is None or plan is None or raw is None or sync is None:
        return (await conn.execute(statement, params)).all()
    sql, args = bound
    _announce(sync, sql, args)
    return plan.rows(raw.execute(sql, args).fetchall())


async def execute(conn: AsyncConnection, statement: Executable,
                  params: Mapping[str, Any] | None = None) -> None:
    """``statement`` (an ``INSERT``, ``UPDATE`` or ``DELETE`` returning nothing) on ``conn``;
    an ``INSERT`` of the columns named in ``params``."""
    sync = conn.sync_connection
    raw = in_place(sync) if sync is not None else None
    keys = tuple(params or ()) if isinstance(statement, Insert) else ()
    plan = _plan(statement, conn.dialect, keys) if raw is not None else None
    bound = plan.bound(params or {}) if plan is not None else None
    if bound is None or raw is None or sync is None:
        await conn.execute(statement, params)
        return
    _announce(sync, *bound)
    raw.execute(*bound)


async def inserted(conn: AsyncConnection, statement: Executable,
                   rows: Sequence[Mapping[str, Any]]) -> Sequence[Sequence[Any]]:
    """``statement``, an ``INSERT … RETURNING``, for every one of ``rows`` (all with the same
    columns) in one multi-row statement; the rows it returns."""
    sync = conn.sync_connection
    raw = in_place(sync) if sync is not None and rows else None
    plan = _plan(statement, conn.dialect, tuple(rows[0])) if raw is not None else None
    # SQLite's limit on parameters (32,766 by default; the inbox's batches of 200 use 1,200)
    most = raw.getlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER) if raw is not None else 0
    sql = plan.values(len(rows), most) if plan is not None and not plan.expanding else None
    if sql is None or plan is None or raw is None or sync is None:
        return (await conn.execute(statement, rows[0] if len(rows) == 1 else list(rows))).all()
    args = [arg for row in rows for arg in _args(plan, row)]
    _announce(sync, sql, args, False)
    return plan.rows(raw.execute(sql, args).fetchall())


def execute_many(sync: Connection, statement: Executable, rows: Sequence[Mapping[str, Any]]) -> None:
    """``statement`` (returning nothing) once per row, in one ``executemany``; from sync code
    inside a unit of work (a session's ``before_commit``)."""
    if not _in_place_many(sync, statement, rows):
        sync.execute(statement, list(rows))


async def execute_each(conn: AsyncConnection, statement: Executable,
                       rows: Sequence[Mapping[str, Any]]) -> None:
    """``execute_many`` from async code, on ``conn`` (the session's connection)."""
    sync = conn.sync_connection
    if sync is None or not _in_place_many(sync, statement, rows):
        await conn.execute(statement, list(rows))


def _in_place_many(sync: Connection, statement: Executable,
                   rows: Sequence[Mapping[str, Any]]) -> bool:
    raw = in_place(sync) if rows else None
    keys = tuple(rows[0]) if isinstance(statement, Insert) and rows else ()
    plan = _plan(statement, sync.dialect, keys) if raw is not None else None
    if plan is None or raw is None or plan.expanding or plan.columns:
        return False
    args = [_args(plan, row) for row in rows]
    _announce(sync, plan.sql, args, True)
    raw.executemany(plan.sql, args)
    return True


def _args(plan: _Plan, row: Mapping[str, Any]) -> list[Any]:
    bound = plan.bound(row)
    assert bound is not None  # no expanding parameters
    return bound[1]


def _announce(sync: Connection, sql: str, args: list[Any], many: bool = False) -> None:
    """The statement to the engine's ``before_cursor_execute`` listeners, as SQLAlchemy would."""
    listeners = sync.dispatch.before_cursor_execute
    if listeners:
        listeners(sync, None, sql, args, None, many)
