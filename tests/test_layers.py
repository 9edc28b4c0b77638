"""The package's layers and their one-way arrows (docs/architecture.md), checked on the source.

Imports go down only: daemon > app > mcp > web > api > services > engine > store. Modules
directly in ``akd/`` (errors, ids, config, manifest, secrets, ...) are shared helpers
below all of them and import none of the layers. SQL and ``sqlite3`` live only in
``akd/store/``, and so do its raw rows: the layers above get frozen records. The runner
side (``akd/runner``, ``akd/sdk``) runs in the user's process and imports nothing of the
daemon's layers.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

AKD = Path(__file__).resolve().parent.parent / "akd"
ORDER = ("daemon", "app", "mcp", "web", "api", "services", "engine", "store")
TOP = {"daemon": "daemon", "cli": "daemon", "__main__": "daemon", "app": "app"}
RUNNER_SIDE = ("runner", "sdk")
SQL = re.compile(r"""["'][^"']*\b(SELECT\s.+\sFROM|INSERT\s+(OR\s+\w+\s+)?INTO|UPDATE\s+\w+\s+SET|DELETE\s+FROM)\b""")


def _module(path: Path) -> str:
    parts = path.relative_to(AKD.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _layer(module: str) -> str:
    """The layer of ``akd.x.y``: one of ORDER, 'runner', or 'shared' for akd's own helpers."""
    parts = module.split(".")
    if len(parts) < 2:
        return "shared"
    if parts[1] in TOP:
        return TOP[parts[1]]
    if parts[1] in ORDER:
        return parts[1]
    return "runner" if parts[1] in RUNNER_SIDE else "shared"


def _imports(path: Path) -> Iterator[tuple[int, str]]:
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            yield from ((node.lineno, a.name) for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            yield node.lineno, node.module
            if node.module == "akd":  # from akd import web
                yield from ((node.lineno, f"akd.{a.name}") for a in node.names)


def _sources() -> list[Path]:
    return sorted(p for p in AKD.rglob("*.py") if "fixtures" not in p.parts)


def _wrong_way(mine: str, theirs: str) -> bool:
    if mine == theirs or (theirs == "runner" and mine == "engine"):
        return False  # the engine speaks the runner's wire protocol (akd.runner.protocol)
    if mine in ("shared", "runner"):
        return theirs in ORDER or (mine == "shared" and theirs == "runner")
    return theirs in ORDER and ORDER.index(theirs) < ORDER.index(mine)


def test_imports_point_down_only() -> None:
    wrong = []
    for path in _sources():
        mine = _layer(_module(path))
        for line, name in _imports(path):
            if name.startswith("akd.") and _wrong_way(mine, _layer(name)):
                wrong.append(f"{path.relative_to(AKD.parent)}:{line} ({mine}) imports {name} ({_layer(name)})")
    assert not wrong, "imports against the layers' order:\n" + "\n".join(wrong)


def test_sql_and_sqlite_only_in_the_store() -> None:
    found = []
    for path in _sources():
        if _layer(_module(path)) == "store":
            continue
        text = path.read_text()
        found += [f"{path.relative_to(AKD.parent)}:{n} SQL" for n, line in enumerate(text.splitlines(), 1)
                  if SQL.search(line)]  # fmt: skip
        found += [f"{path.relative_to(AKD.parent)}:{line} imports sqlite3" for line, name in _imports(path)
                  if name == "sqlite3" and _layer(_module(path)) != "app"]  # fmt: skip
    assert not found, "SQL outside akd/store:\n" + "\n".join(found)


# The store's raw row types (``sqlite3.Row`` and its Postgres stand-in): store functions hand
# the layers above frozen records instead, so these names never leave akd/store/.
ROW_TYPES = {"Row", "RowLike", "SqliteRow", "PgRow"}
ROW_WORD = re.compile(r"\b(Row|RowLike|SqliteRow|PgRow)\b")


def _annotations(tree: ast.AST) -> Iterator[ast.expr]:
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            args = [*node.args.posonlyargs, *node.args.args, *node.args.kwonlyargs, node.args.vararg, node.args.kwarg]
            yield from (a.annotation for a in args if a is not None and a.annotation is not None)
            if node.returns is not None:
                yield node.returns
        elif isinstance(node, ast.AnnAssign):
            yield node.annotation


def _names_a_row(annotation: ast.expr) -> bool:
    for node in ast.walk(annotation):
        if isinstance(node, ast.Name) and node.id in ROW_TYPES:
            return True
        if isinstance(node, ast.Attribute) and node.attr in ROW_TYPES:
            return True
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and ROW_WORD.search(node.value):
            return True
    return False


def row_crossings(source: str) -> list[str]:
    """Where ``source`` imports one of the store's row types or annotates with one."""
    tree = ast.parse(source)
    found = [f"{node.lineno} imports {a.name} from {node.module}" for node in ast.walk(tree)
             if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("akd.store")
             for a in node.names if a.name in ROW_TYPES]  # fmt: skip
    found += [f"{a.lineno} annotates with {ast.unparse(a)}" for a in _annotations(tree) if _names_a_row(a)]
    return found


def test_raw_rows_stay_in_the_store() -> None:
    found = []
    for path in _sources():
        if _layer(_module(path)) != "store":
            found += [f"{path.relative_to(AKD.parent)}:{where}" for where in row_crossings(path.read_text())]
    assert not found, "raw store rows outside akd/store (return a frozen record from the store):\n" + "\n".join(found)


@pytest.mark.parametrize(("source", "found"), [
    ("from akd.store.db import Database, Row", 1),
    ("from akd.store.pg.rows import RowLike", 1),
    ("def f(r: db.Row) -> None: ...", 1),
    ("async def f() -> list['RowLike']: ...", 1),
    ("x: Sequence[Row] | None = None", 1),
    ("from akd.store.sessions import SessionRecord\ndef f(r: SessionRecord) -> RowCount: ...", 0),
])  # fmt: skip
def test_the_row_check_itself(source: str, found: int) -> None:
    assert len(row_crossings(source)) == found


@pytest.mark.parametrize(("mine", "theirs", "wrong"), [
    ("api", "services", False), ("services", "api", True), ("engine", "services", True),
    ("store", "engine", True), ("shared", "store", True), ("web", "api", False), ("runner", "engine", True),
])  # fmt: skip
def test_the_rule_itself(mine: str, theirs: str, wrong: bool) -> None:
    assert _wrong_way(mine, theirs) is wrong


def test_the_sql_pattern_finds_the_stores_statements() -> None:
    for module in ("events", "sessions", "vars", "kv"):
        lines = (AKD / "store" / f"{module}.py").read_text().splitlines()
        assert any(SQL.search(line) for line in lines), module
