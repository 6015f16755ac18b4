"""Rows written without the ORM's unit of work, on the hot award and redemption paths.

A flush builds its statements and runs its dependency sorting per flush, which cost several
times the statement for the one row an award or an order adds or changes. ``insert_new`` and
``update_loaded`` send the same ``INSERT … RETURNING id`` / primary-key ``UPDATE`` a flush would,
from statements built once per model, and leave the objects in the session as loaded.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, TypeVar

from sqlalchemy import Table, bindparam, insert, update
from sqlalchemy import inspect as sa_inspect
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapper, class_mapper, make_transient_to_detached
from sqlalchemy.orm.attributes import set_committed_value
from sqlalchemy.sql.dml import Insert, Update

from core import columns

ModelT = TypeVar("ModelT")


def table_of(model: type) -> Table:
    table = model.__table__  # type: ignore[attr-defined]
    assert isinstance(table, Table)
    return table


# Per model: its table's INSERT of every column but the id, RETURNING the id, and the attributes
# giving the columns' values (``insert_new``).
_NEW_ROW: dict[type, tuple[Insert, list[tuple[str, str]]]] = {}


def _new_row(model: type) -> tuple[Insert, list[tuple[str, str]]]:
    if model not in _NEW_ROW:
        table = table_of(model)
        mapper: Mapper[Any] = sa_inspect(model)
        (pk,) = table.primary_key.columns
        attrs = [(prop.key, prop.columns[0].key) for prop in mapper.column_attrs
                 if prop.columns[0] is not pk]
        _NEW_ROW[model] = insert(table).returning(pk), attrs
        _DEFAULTED[model] = [prop.key for prop in mapper.column_attrs
                             if prop.columns[0].default is not None
                             or prop.columns[0].server_default is not None]
    return _NEW_ROW[model]


# Per model: attributes whose column has a default. insert_new applies none, so one left unset
# would be written as NULL where a flush wrote the default: refused instead.
_DEFAULTED: dict[type, list[str]] = {}


async def insert_new(session: AsyncSession, obj: ModelT) -> ModelT:
    """Insert a new object whose every column but its autoincrement id is set (defaults are not
    applied) and put it in the session as if loaded. One ``INSERT … RETURNING id``, as a flush
    sent, by a statement built once per model: the flush's unit-of-work machinery cost several
    times the statement (on a SQLite lane the statement runs on the driver in place,
``core.direct``). Pending changes of other objects are not flushed by it."""
    stmt, attrs = _new_row(type(obj))
    unset = [attr for attr in _DEFAULTED[type(obj)] if getattr(obj, attr) is None]
    assert not unset, f"insert_new applies no defaults: set {unset} of {type(obj).__name__}"
    (row,) = await columns.inserted(session, stmt, [{column: getattr(obj, attr)
                                                     for attr, column in attrs}])
    obj.id = row[0]  # type: ignore[attr-defined]
    make_transient_to_detached(obj)
    session.add(obj)  # persistent, as if loaded: nothing left to insert
    return obj


_SET_ROW: dict[tuple[type, tuple[str, ...]], Update] = {}


async def update_loaded(
    session: AsyncSession, changes: Sequence[tuple[ModelT, dict[str, Any]]],
) -> None:
    """Write new column values of loaded objects (one model, the same columns for each) to their
    rows by primary key and into the objects as their committed state, as a flush would: one
    statement (run once per row, like the flush's) built once per model and columns, without
    the unit of work. For models without ``onupdate`` columns."""
    if not changes:
        return
    model = type(changes[0][0])
    keys = tuple(changes[0][1])
    stmt = _SET_ROW.get((model, keys))
    if stmt is None:
        table = table_of(model)
        assert not any(c.onupdate is not None for c in table.columns), table.name
        (pk,) = table.primary_key.columns
        stmt = (update(table).where(pk == bindparam("pk_"))
                .values({key: bindparam(key, type_=table.c[key].type) for key in keys}))
        _SET_ROW[(model, keys)] = stmt
    mapper = class_mapper(model)
    pk_attr = mapper.get_property_by_column(mapper.primary_key[0]).key
    await columns.execute_each(session, stmt, [{"pk_": getattr(obj, pk_attr), **values}
                                               for obj, values in changes])
    for obj, values in changes:
        for key, value in values.items():
            set_committed_value(obj, key, value)
