"""Rows added to a session, written as plain INSERTs instead of by the ORM's flush.

An upload adds a file, its history line and its jobs, and changes none of them afterwards in
that transaction. The ORM's flush of those three rows (unit-of-work sorting, state bookkeeping,
a compiled-cache lookup per row) took 13 % of the event loop's time under the small-upload
bench; the same rows as statements built once and run on SQLite's driver (`ON_DRIVER`) take a
fraction of it.

The price is in the contract: objects written here leave the session, so a later change to one
of them in the same transaction is not written. Callers use it where they add rows and are done
with them.
"""

from __future__ import annotations

from functools import cache
from typing import Any, Final

from sqlalchemy import Column, Table, bindparam, insert, inspect
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapper
from sqlalchemy.sql.dml import Insert

from scopix.server.catalog.loop_session import ON_DRIVER
from scopix.server.catalog.models import Base

#: Tables in foreign-key order: a file's row goes in before the rows that name it.
_TABLE_ORDER: Final = {table: i for i, table in enumerate(Base.metadata.sorted_tables)}


async def insert_added(session: AsyncSession) -> None:
    """Insert every object added to `session` since its last flush, in foreign-key order and
    then in the order they were added, and let go of them."""
    added = sorted(session.new, key=_insert_order)
    for instance in added:
        session.expunge(instance)  # before any statement, so autoflush does not write it too
    for instance in added:
        mapper, row = _row_of(instance)
        await session.execute(_insert_into(mapper), row)


def _insert_order(instance: object) -> tuple[int, int]:
    state = inspect(instance)
    return _TABLE_ORDER[state.mapper.local_table], state.insert_order


def _row_of(instance: object) -> tuple[Mapper[Any], dict[str, Any]]:
    """The table row of a new mapped object, with the Python-side defaults the ORM applies."""
    state = inspect(instance)
    given = state.dict  # the attributes set on it; an unset one reads as None
    row = {}
    for column, attribute in _written_columns(state.mapper):
        value = given.get(attribute)
        if value is None and column.default is not None:
            value = _default(column.default)
            setattr(instance, attribute, value)  # as the ORM's flush leaves the object
        row[column.key] = value
    return state.mapper, row


def _default(default: Any) -> Any:
    if default.is_scalar:
        return default.arg
    if default.is_callable:
        return default.arg(None)  # wrapped by SQLAlchemy to take (and ignore) a context
    raise TypeError(f"a SQL default is not applied to a row written straight: {default}")


@cache
def _written_columns(mapper: Mapper[Any]) -> tuple[tuple[Column[Any], str], ...]:
    """Every column of the mapper's table but an autoincrementing key (the database numbers
    it), with the name of the attribute that holds its value."""
    table = _table_of(mapper)
    return tuple(
        (column, mapper.get_property_by_column(column).key)
        for column in table.columns
        if column is not table.autoincrement_column
    )


@cache
def _insert_into(mapper: Mapper[Any]) -> Insert:
    values: dict[str, Any] = {
        column.key: bindparam(column.key) for column, _ in _written_columns(mapper)
    }
    return insert(_table_of(mapper)).values(values).execution_options(**ON_DRIVER)


def _table_of(mapper: Mapper[Any]) -> Table:
    table = mapper.local_table
    assert isinstance(table, Table)  # every model maps one table
    return table
