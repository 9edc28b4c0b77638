"""The store's SQLite statements as Postgres statements, where that is mechanical and safe.

- ``?`` placeholders become psycopg's ``%s`` (and a literal ``%`` becomes ``%%``, as
  psycopg reads ``%`` anywhere in a statement that has parameters);
- ``INSERT OR IGNORE INTO ...`` -> ``INSERT INTO ... ON CONFLICT DO NOTHING`` (any unique
  key, as SQLite ignores a conflict on any);
- ``INSERT OR REPLACE INTO t ...`` -> ``INSERT INTO t ... ON CONFLICT (<t's primary key>)
  DO UPDATE SET`` each listed column from ``EXCLUDED`` and each unlisted one to its
  ``DEFAULT``: SQLite's REPLACE deletes the old row and inserts a whole new one. Refused
  for a table with another unique key (SQLite would delete the rows conflicting on that
  one too, which an upsert cannot express);
- ``x'00ff'`` (a blob literal) -> ``CAST('\\x00ff' AS BYTEA)``;
- a subquery in FROM or JOIN without an alias gets one (``AS _sub1``);
- ``group_concat(x[, sep])`` -> ``string_agg(CAST(x AS TEXT), sep or ',')``;
  ``IFNULL(`` -> ``COALESCE(``;
- ``json_extract(x, '$.a.b')`` -> ``(CAST(x AS JSONB) #>> '{a,b}')``: the same value for a
  string member (text either way); a number or boolean comes back as its text.

Anything else passes through unchanged; what needs a hand-made dialect change is listed
in docs/postgres.md. A statement this module refuses raises ``UnsupportedSql``.
"""

from __future__ import annotations

import re
from functools import lru_cache

from akd.store.pg.schema import split_top_level, tables

_LITERAL = re.compile(r"'(?:[^']|'')*'")
_MASK = "\x00{}\x00"
_MASKED = re.compile(r"\x00(\d+)\x00")
_OR_IGNORE = re.compile(r"^(\s*)INSERT\s+OR\s+IGNORE\s+INTO\b", re.I)
_OR_REPLACE = re.compile(r"^(\s*)INSERT\s+OR\s+REPLACE\s+INTO\s+(\w+)\s*(\(([^)]*)\))?", re.I)
_RETURNING = re.compile(r"\bRETURNING\b", re.I)
_FUNCTION = re.compile(r"\b(group_concat|json_extract)\s*\(", re.I)
_IFNULL = re.compile(r"\bIFNULL\s*\(", re.I)
_JSON_PATH = re.compile(r"^\$(\.\w+)+$")
_FROM_SUBQUERY = re.compile(r"\b(FROM|JOIN)\s*\(\s*SELECT\b", re.I)
_ALIAS = re.compile(r"\s*(AS\s+)?(\w+)", re.I)
_NOT_ALIASES = frozenset({
    "WHERE", "GROUP", "ORDER", "LIMIT", "OFFSET", "HAVING", "WINDOW", "UNION", "EXCEPT", "INTERSECT", "JOIN", "LEFT",
    "RIGHT", "FULL", "INNER", "CROSS", "NATURAL", "ON", "USING", "RETURNING",
})  # fmt: skip
_BLOB_LITERAL = re.compile(r"\b[xX]\x00(\d+)\x00")
_HEX = re.compile(r"^'([0-9a-fA-F]{2})*'$")


class UnsupportedSql(ValueError):
    """A SQLite statement this module cannot translate safely."""


@lru_cache(maxsize=2048)
def translate(sql: str) -> str:
    """``sql`` (SQLite, ``?`` placeholders) as Postgres for psycopg (``%s`` placeholders)."""
    literals: list[str] = []

    def mask(m: re.Match[str]) -> str:
        literals.append(m.group(0))
        return _MASK.format(len(literals) - 1)

    code = _LITERAL.sub(mask, sql)
    code = _BLOB_LITERAL.sub(lambda m: _blob(literals[int(m.group(1))]), code)
    code = _functions(code, literals)
    code = _IFNULL.sub("COALESCE(", code)
    code = _alias_subqueries(code)
    code = _insert_or(code)
    code = code.replace("%", "%%").replace("?", "%s")
    return _MASKED.sub(lambda m: literals[int(m.group(1))].replace("%", "%%"), code)


def _alias_subqueries(code: str) -> str:
    """An alias for each subquery in FROM or JOIN that has none (SQLite allows that,
    Postgres before 16 does not)."""
    start, n = 0, 0
    while m := _FROM_SUBQUERY.search(code, start):
        end = _closing_paren(code, code.index("(", m.start()) + 1)
        alias = _ALIAS.match(code, end + 1)
        if alias is None or alias.group(2).upper() in _NOT_ALIASES:
            n += 1
            code = f"{code[: end + 1]} AS _sub{n}{code[end + 1 :]}"
        start = code.index("(", m.start()) + 1
    return code


def _blob(literal: str) -> str:
    """A SQLite blob literal (``x'00ff'``) as a bytea value."""
    if not _HEX.match(literal):
        raise UnsupportedSql(f"not a blob literal: x{literal}")
    return f"CAST('\\x{literal[1:-1]}' AS BYTEA)"


def _insert_or(code: str) -> str:
    if m := _OR_IGNORE.match(code):
        return _append_clause(f"{m.group(1)}INSERT INTO{code[m.end() :]}", "ON CONFLICT DO NOTHING")
    if m := _OR_REPLACE.match(code):
        listed = [c.strip() for c in m.group(4).split(",")] if m.group(4) else None
        clause = _upsert(m.group(2), listed)
        return _append_clause(f"{m.group(1)}INSERT INTO {m.group(2)} {m.group(3) or ''}{code[m.end() :]}", clause)
    return code


def _upsert(table_name: str, listed: list[str] | None) -> str:
    """The ON CONFLICT clause that makes an insert replace the row with the same key."""
    table = tables().get(table_name)
    if table is None or not table.primary_key:
        raise UnsupportedSql(f"INSERT OR REPLACE into {table_name}: no primary key known for it")
    if table.unique:
        raise UnsupportedSql(
            f"INSERT OR REPLACE into {table_name}: it has unique keys besides its primary key {table.unique}; "
            "SQLite would delete rows conflicting on those too"
        )
    columns = listed if listed is not None else table.columns
    sets = [f"{c} = EXCLUDED.{c}" for c in columns if c not in table.primary_key]
    sets += [f"{c} = DEFAULT" for c in table.columns if c not in columns and c not in table.primary_key]
    target = ", ".join(table.primary_key)
    return f"ON CONFLICT ({target}) DO UPDATE SET {', '.join(sets)}" if sets else f"ON CONFLICT ({target}) DO NOTHING"


def _append_clause(code: str, clause: str) -> str:
    """``clause`` at the end of an INSERT, before its RETURNING if it has one."""
    body = code.rstrip().rstrip(";").rstrip()
    if m := _RETURNING.search(body):
        return f"{body[: m.start()].rstrip()} {clause} {body[m.start() :]}"
    return f"{body} {clause}"


def _functions(code: str, literals: list[str]) -> str:
    """group_concat and json_extract calls rewritten, innermost arguments included."""
    while m := _FUNCTION.search(code):
        end = _closing_paren(code, m.end())
        args = split_top_level(_functions(code[m.end() : end], literals))
        name = m.group(1).lower()
        call = _group_concat(args) if name == "group_concat" else _json_extract(args, literals)
        code = code[: m.start()] + call + code[end + 1 :]
    return code


def _group_concat(args: list[str]) -> str:
    if len(args) not in (1, 2):
        raise UnsupportedSql(f"group_concat with {len(args)} arguments")
    separator = args[1] if len(args) == 2 else "','"
    return f"string_agg(CAST({args[0]} AS TEXT), {separator})"


def _json_extract(args: list[str], literals: list[str]) -> str:
    path = _MASKED.fullmatch(args[1].strip()) if len(args) == 2 else None
    text = literals[int(path.group(1))][1:-1] if path else ""
    if not _JSON_PATH.match(text):
        raise UnsupportedSql(f"json_extract with a path other than '$.member...': {args}")
    return f"(CAST({args[0]} AS JSONB) #>> '{{{','.join(text[2:].split('.'))}}}')"


def _closing_paren(code: str, start: int) -> int:
    depth = 1
    for i in range(start, len(code)):
        depth += {"(": 1, ")": -1}.get(code[i], 0)
        if depth == 0:
            return i
    raise UnsupportedSql(f"unbalanced parentheses in {code!r}")
