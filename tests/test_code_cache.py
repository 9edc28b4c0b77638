"""The runner's cache of rewritten user code (akd.runner.hook.CodeCache)."""

from __future__ import annotations

from pathlib import Path
from types import CodeType

from akd.runner import hook

SOURCE = b"def run(event):\n    return len(event)\n"


def entries(root: Path) -> list[Path]:
    return sorted(p for p in root.rglob("*") if p.is_file())


def call_names(code: CodeType) -> set[str]:
    names = set(code.co_names)
    for const in code.co_consts:
        if isinstance(const, CodeType):
            names |= call_names(const)
    return names


def test_rewritten_code_is_stored_once_and_reused(tmp_path: Path) -> None:
    cache = hook.CodeCache(str(tmp_path / "cache"))
    first = cache.code("/builds/b1/program.py", SOURCE)
    assert hook.CALL_NAME in call_names(first)  # the call inside run() was rewritten
    [stored] = entries(tmp_path / "cache")
    stamp = stored.stat().st_mtime_ns
    second = cache.code("/builds/b1/program.py", SOURCE)
    assert second.co_filename == "/builds/b1/program.py"
    assert call_names(second) == call_names(first)
    assert entries(tmp_path / "cache") == [stored] and stored.stat().st_mtime_ns == stamp


def test_other_source_or_path_gets_its_own_entry(tmp_path: Path) -> None:
    cache = hook.CodeCache(str(tmp_path))
    cache.code("/builds/b1/program.py", SOURCE)
    changed = cache.code("/builds/b1/program.py", SOURCE.replace(b"len", b"sorted"))
    moved = cache.code("/builds/b2/program.py", SOURCE)
    assert "sorted" in call_names(changed)
    assert moved.co_filename == "/builds/b2/program.py"
    assert len(entries(tmp_path)) == 3


def test_a_damaged_entry_is_rewritten_and_replaced(tmp_path: Path) -> None:
    cache = hook.CodeCache(str(tmp_path))
    cache.code("/b/p.py", SOURCE)
    [stored] = entries(tmp_path)
    stored.write_bytes(b"\x00not marshal")
    code = cache.code("/b/p.py", SOURCE)
    assert hook.CALL_NAME in call_names(code)
    assert stored.read_bytes() != b"\x00not marshal"


def test_an_unwritable_cache_only_costs_speed(tmp_path: Path) -> None:
    blocked = tmp_path / "code"
    blocked.write_text("a file where the cache directory should be")  # fails for root too
    code = hook.CodeCache(str(blocked)).code("/b/p.py", SOURCE)
    assert hook.CALL_NAME in call_names(code)
    assert [p.name for p in tmp_path.iterdir()] == ["code"] and blocked.is_file()
