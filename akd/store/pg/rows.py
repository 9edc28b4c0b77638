"""Result rows and value adapters that make Postgres answers read like SQLite's."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from typing import Any, overload

from psycopg import AsyncConnection, postgres
from psycopg.adapt import Buffer, Dumper, Loader
from psycopg.rows import BaseRowFactory
from psycopg.types.string import StrDumper


class PgRow:
    """A row like ``sqlite3.Row``: by index, by column name (case-insensitive), ``keys()``."""

    __slots__ = ("_index", "_names", "_values")

    def __init__(self, names: tuple[str, ...], index: dict[str, int], values: tuple[Any, ...]) -> None:
        self._names = names
        self._index = index
        self._values = values

    @overload
    def __getitem__(self, key: int | str) -> Any: ...

    @overload
    def __getitem__(self, key: slice) -> tuple[Any, ...]: ...

    def __getitem__(self, key: int | str | slice) -> Any:
        if isinstance(key, str):
            i = self._index.get(key)
            if i is None and (i := self._index.get(key.lower())) is None:
                raise IndexError("No item with that key")
            return self._values[i]
        return self._values[key]

    def keys(self) -> list[str]:
        return list(self._names)

    def __iter__(self) -> Iterator[Any]:
        return iter(self._values)

    def __len__(self) -> int:
        return len(self._values)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, PgRow):
            return NotImplemented
        return self._names == other._names and self._values == other._values

    def __hash__(self) -> int:
        return hash((self._names, self._values))

    def __repr__(self) -> str:
        return f"PgRow({dict(zip(self._names, self._values, strict=True))!r})"


def pg_row(cursor: Any) -> Callable[[Sequence[Any]], PgRow]:
    """psycopg row factory: one name index per result, shared by its rows."""
    names = tuple(c.name for c in cursor.description or ())
    index: dict[str, int] = {}
    for i, name in enumerate(names):
        index.setdefault(name, i)  # the first of two same-named columns, as sqlite3.Row
        index.setdefault(name.lower(), i)
    return lambda values: PgRow(names, index, tuple(values))


ROW_FACTORY: BaseRowFactory[PgRow] = pg_row


class NumberLoader(Loader):
    """``numeric`` (what SUM of BIGINT gives) as int when whole, else float, as SQLite
    returns them: a Decimal would not survive ``json.dumps``."""

    def load(self, data: Buffer) -> int | float:
        text = bytes(data)
        if text.lstrip(b"-").isdigit():
            return int(text)
        return float(text)


class BoolAsInt(Dumper):
    """Python booleans as 0/1: the schema's flags are integers, as on SQLite."""

    oid = postgres.types["int8"].oid

    def dump(self, obj: Any) -> bytes:
        return b"1" if obj else b"0"


def configure(conn: AsyncConnection[Any]) -> None:
    """The adapters every akd connection uses.

    ``str`` goes as ``text``, not psycopg's untyped default: text bound for a BYTEA column
    then fails loudly, where Postgres would otherwise parse it as bytea input (and turn a
    string starting with ``\\x`` into other bytes) and hand back bytes where SQLite gave str.
    """
    conn.adapters.register_loader("numeric", NumberLoader)
    conn.adapters.register_dumper(bool, BoolAsInt)
    conn.adapters.register_dumper(str, StrDumper)
