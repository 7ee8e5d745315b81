"""Bulk reads and writes for whole poll batches: the hand-made dialect layer.

A poll writes thousands of records per transaction. On PostgreSQL a batch is one statement over
arrays (``unnest``); on SQLite rows go straight to the driver with each column's bind processor
applied once per value. Measured against SQLAlchemy's own paths; keep it as it is."""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Mapping, MutableMapping, Sequence
from datetime import UTC, date, datetime
from typing import Any, TypeAlias, TypeVar, cast

from sqlalchemy import Table, bindparam, text, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlmodel import Session

# One row of a bulk write: column name -> plain Python value (dates, datetimes, dicts for
# JSON); the column's bind processor turns it into what the driver takes. The repositories
# take their own typed rows (db/rows.py), each of which is one of these.
Row: TypeAlias = Mapping[str, object]
R = TypeVar("R", bound=Row)
T = TypeVar("T")


def is_postgresql(session: Session) -> bool:
    """PostgreSQL, or else SQLite: the two databases the app runs on."""
    return bool(session.get_bind().dialect.name == "postgresql")


def dialect_insert(session: Session) -> Any:
    """The dialect's INSERT that understands ON CONFLICT DO NOTHING (and RETURNING, which tells
    on both backends whether a row was really inserted)."""
    return pg_insert if is_postgresql(session) else sqlite_insert


_CHUNK = 500


def chunks(items: Iterable[T], size: int = _CHUNK) -> Iterator[list[T]]:
    batch: list[T] = []
    for item in items:
        batch.append(item)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch


def select_rows(session: Session, stmt: Any, params: dict[str, Any] | None = None) -> Any:
    """Rows of a SELECT of plain columns, run on the session's connection: the same rows as
    ``session.execute`` without the ORM's per-row work (the session is flushed first, as
    its autoflush would)."""
    if session.autoflush:
        session.flush()
    return session.connection().execute(stmt, params)


def row_dicts(result: Any) -> list[dict[str, Any]]:
    """A result's rows as dicts by column name, fetched at once (cheaper than row by row); the
    repositories hand them on as their typed rows (db/rows.py)."""
    keys = list(result.keys())
    return [dict(zip(keys, row, strict=True)) for row in result.fetchall()]


def _executemany(
    session: Session,
    stmt: Any,
    table: Table,
    rows: Sequence[Row],
    *,
    bind_prefix: str = "",
) -> None:
    """On SQLite, run ``stmt`` once per row: the rows go straight to the driver's executemany
    with each column's bind processor applied once per value, skipping SQLAlchemy's per-row
    parameter handling (the bulk of a poll's write time). Bind names are the rows' keys, each
    with ``bind_prefix`` in front."""
    if not rows:
        return
    dialect = session.get_bind().dialect
    compiled = stmt.compile(dialect=dialect, column_keys=[bind_prefix + k for k in rows[0]])
    keys = [name.removeprefix(bind_prefix) for name in compiled.positiontup or ()]
    params = [tuple(values) for values in _sqlite_params(table, dialect, keys, rows)]
    session.connection().exec_driver_sql(str(compiled), params)


def _pg_columns(
    session: Session, table: Table, keys: Sequence[str], rows: Sequence[Row]
) -> tuple[str, str, dict[str, list[Any]]]:
    """For PostgreSQL: the quoted column list, an ``unnest(…) AS v(…)`` of one array per column
    (cast to the column's type), and those arrays as parameters. One statement then writes a
    whole batch: the server plans and runs it once instead of once per row."""
    dialect = session.get_bind().dialect
    quote = dialect.identifier_preparer.quote
    arrays, params = [], {}
    for i, key in enumerate(keys):
        column = table.c[key]
        processor = column.type.dialect_impl(dialect).bind_processor(dialect)
        values = [row[key] for row in rows]
        params[f"c{i}"] = [processor(v) for v in values] if processor else values
        arrays.append(f"CAST(:c{i} AS {column.type.compile(dialect=dialect)}[])")
    names = ", ".join(quote(k) for k in keys)
    return names, f"unnest({', '.join(arrays)}) AS v({names})", params


def _insert_clauses(session: Session, unique: Sequence[str], returning: Sequence[str]) -> str:
    """The ``ON CONFLICT (…) DO NOTHING`` and ``RETURNING …`` that follow an INSERT (either
    may be left out)."""
    quote = session.get_bind().dialect.identifier_preparer.quote
    tail = f" ON CONFLICT ({', '.join(quote(c) for c in unique)}) DO NOTHING" if unique else ""
    if returning:
        tail += f" RETURNING {', '.join(quote(name) for name in returning)}"
    return tail


def _pg_insert_rows(session: Session, table: Table, rows: Sequence[Row], tail: str) -> Any:
    """PostgreSQL: the rows in one ``INSERT … SELECT … FROM unnest(…)`` followed by ``tail``."""
    quote = session.get_bind().dialect.identifier_preparer.quote
    names, source, params = _pg_columns(session, table, list(rows[0]), rows)
    sql = f"INSERT INTO {quote(table.name)} ({names}) SELECT {names} FROM {source}{tail}"
    return session.connection().execute(text(sql), params)


def bulk_insert(
    session: Session, table: Table, rows: Sequence[Row], *, unique: Sequence[str] = ()
) -> None:
    """INSERT the rows (all with the same keys); with ``unique``, a row whose values of those
    columns exist already is skipped."""
    if not rows:
        return
    if is_postgresql(session):
        _pg_insert_rows(session, table, rows, _insert_clauses(session, unique, ()))
        return
    stmt = dialect_insert(session)(table)
    if unique:
        stmt = stmt.on_conflict_do_nothing(index_elements=list(unique))
    _executemany(session, stmt, table, rows)


def _sqlite_params(
    table: Table, dialect: Any, keys: list[str], rows: Sequence[Row]
) -> Iterator[list[object]]:
    """The rows' values in ``keys`` order, each through its column's SQLite bind processor."""
    convert = [
        (i, p) for i, key in enumerate(keys) if (p := _sqlite_processor(table.c[key], dialect))
    ]
    for row in rows:
        values = [row[key] for key in keys]
        for i, p in convert:
            values[i] = p(values[i])
        yield values


def insert_returning(
    session: Session,
    table: Table,
    rows: Sequence[Row],
    returning: tuple[str, ...],
    *,
    skip_conflicts_on: str | tuple[str, ...] | None = None,
) -> list[tuple[Any, ...]]:
    """INSERT the rows (all with the same keys) and return ``returning`` of each row really
    inserted (a row whose ``skip_conflicts_on`` value exists already is skipped, not returned).

    On SQLite: multi-row ``INSERT … VALUES (…), (…) RETURNING`` statements built here, the
    values through the columns' bind processors, instead of SQLAlchemy's per-row parameter
    handling; on PostgreSQL one ``INSERT … SELECT … FROM unnest(…) RETURNING`` (the rows come
    back in no promised order: callers match them by a unique column)."""
    if not rows:
        return []
    unique = (skip_conflicts_on,) if isinstance(skip_conflicts_on, str) else skip_conflicts_on
    tail = _insert_clauses(session, unique or (), returning)
    if is_postgresql(session):
        return [tuple(row) for row in _pg_insert_rows(session, table, rows, tail)]
    dialect = session.get_bind().dialect
    quote = dialect.identifier_preparer.quote
    keys = list(rows[0])
    one = "(" + ", ".join("?" for _ in keys) + ")"
    head = f"INSERT INTO {quote(table.name)} ({', '.join(quote(k) for k in keys)}) VALUES "
    per_statement = max(1, 30_000 // len(keys))  # SQLite allows 32,766 parameters
    out: list[tuple[Any, ...]] = []
    connection = session.connection()
    params = list(_sqlite_params(table, dialect, keys, rows))
    for start in range(0, len(params), per_statement):
        part = params[start : start + per_statement]
        flat = tuple(value for values in part for value in values)
        sql = head + ", ".join(one for _ in part) + tail
        out.extend(tuple(row) for row in connection.exec_driver_sql(sql, flat))
    return out


_LAST_DATETIME: tuple[Any, Any] = (None, None)


def _sqlite_utc_datetime(value: Any) -> Any:
    """What SQLAlchemy stores for an aware datetime on SQLite (UTC, ``2026-11-22
    08:00:00.000000``), without its per-value dictionary formatting. A batch's rows share
    one ``now``: the last value's text is kept."""
    global _LAST_DATETIME
    last = _LAST_DATETIME
    if value is last[0]:
        return last[1]
    if isinstance(value, datetime):
        if value.utcoffset() is None:
            raise ValueError("Datetime values must have timezone information")
        stored = value.astimezone(UTC).replace(tzinfo=None).isoformat(" ", "microseconds")
        _LAST_DATETIME = (value, stored)
        return stored
    return value


def _sqlite_date(value: Any) -> Any:
    """What SQLAlchemy stores for a date on SQLite (``2026-11-22``)."""
    return value.isoformat() if type(value) is date else value


def _sqlite_json(processor: Any) -> Any:
    """SQLAlchemy's JSON processor with a short cut for objects (its serializer's text)."""

    def process(value: Any) -> Any:
        if type(value) is dict:
            return json.dumps(value) if value else "{}"  # most usage and limits are empty
        return processor(value)

    return process


_FAST_SQLITE: tuple[tuple[Any, Any], ...] = (
    (lambda _: _sqlite_utc_datetime, datetime(2026, 11, 22, 8, 0, 0, 5, tzinfo=UTC)),
    (lambda _: _sqlite_date, date(2026, 11, 22)),
    (_sqlite_json, {"api_calls": 1.5, "seats": [1, None], "é": "x"}),
)


def _sqlite_processor(column: Any, dialect: Any) -> Any:
    """The bind processor SQLAlchemy itself applies to ``column`` on SQLite (the dialect's type:
    a generic DateTime has none), or a faster one that stores the same text for dates and
    aware datetimes (checked against SQLAlchemy's on a sample)."""
    processor = column.type.dialect_impl(dialect).bind_processor(dialect)
    if processor is None:
        return None
    for make, sample in _FAST_SQLITE:
        fast = make(processor)
        try:
            if processor(sample) == fast(sample) and processor(None) == fast(None):
                return fast
        except (TypeError, ValueError, AttributeError):
            continue
    return processor


def update_by_id(session: Session, model: Any, rows: Sequence[Row]) -> None:
    """One bulk UPDATE by primary key; every row carries ``id`` and the same fields."""
    if not rows:
        return
    table = core_table(model)
    fields = [k for k in rows[0] if k != "id"]
    if is_postgresql(session):
        quote = session.get_bind().dialect.identifier_preparer.quote
        _, source, params = _pg_columns(session, table, ["id", *fields], rows)
        changes = ", ".join(f"{quote(f)} = v.{quote(f)}" for f in fields)
        sql = f"UPDATE {quote(table.name)} AS t SET {changes} FROM {source} WHERE t.id = v.id"
        session.connection().execute(text(sql), params)
        return
    stmt = (
        update(table)
        .where(table.c.id == bindparam("_id"))
        .values({f: bindparam(f"_{f}") for f in fields})
    )
    _executemany(session, stmt, table, rows, bind_prefix="_")


def core_table(model: Any) -> Table:
    """The Core table of a model: bulk statements on it skip the ORM's per-row work."""
    table: Table = model.__table__
    return table


def complete_rows(model: Any, rows: Sequence[R]) -> Sequence[R]:
    """Fill each row's missing columns from the model's defaults (bulk inserts skip them), in
    place: a row of any typed kind (db/rows.py) is a plain dict underneath."""
    defaults: dict[str, Any] = {}
    for name, info in model.model_fields.items():
        if name == "id":
            continue
        if info.default_factory is not None:
            defaults[name] = info.default_factory()
        elif not info.is_required():
            defaults[name] = info.default
    wanted = defaults.keys()
    for row in rows:
        if wanted <= row.keys():
            continue  # complete already, as the cycle builds its rows: one set comparison
        filled = cast(MutableMapping[str, object], row)
        for name, value in defaults.items():
            if name not in filled:
                filled[name] = dict(value) if isinstance(value, dict) else value
    return rows
