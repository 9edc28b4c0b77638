"""Tests of akd.build: project snapshots, their checks and how they are written."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from akd.build import Snapshot, requirements_hash, snapshot_project, write_snapshot
from akd.errors import BuildError
from akd.manifest import parse_manifest
from akd.models import Manifest

PROGRAM = """\
import helpers


def on_http(event):
    def nested():
        pass
    return helpers.answer()


async def on_tick(event):
    pass


class Handler:
    def on_webhook(self, event):
        pass
"""


def manifest(*calls: str) -> Manifest:
    """A manifest with one webhook trigger per ``call``."""
    triggers = "".join(f"    - name: t{i}\n      type: webhook\n      call: {c}\n" for i, c in enumerate(calls))
    return parse_manifest(f"version: v1\nproject:\n  name: p\n  triggers:\n{triggers}")


def make_project(root: Path, files: dict[str, str | bytes]) -> Path:
    for rel, content in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content)
    return root


@pytest.fixture
def project(tmp_path: Path) -> Path:
    return make_project(
        tmp_path / "proj",
        {
            "autokitteh.yaml": "version: v1\nproject:\n  name: p\n",
            "program.py": PROGRAM,
            "helpers.py": "def answer():\n    return 42\n",
            "lib/util.py": "X = 1\n",
            "data/config.json": "{}",
        },
    )


def test_snapshot_collects_project_files(project: Path) -> None:
    snapshot = snapshot_project(project, manifest("program.py:on_http", "program.py:on_tick"))
    assert sorted(snapshot.files) == [
        "autokitteh.yaml",
        "data/config.json",
        "helpers.py",
        "lib/util.py",
        "program.py",
    ]
    assert snapshot.files["program.py"] == PROGRAM.encode()
    assert snapshot.size == sum(len(c) for c in snapshot.files.values())
    assert len(snapshot.digest) == 64


def test_snapshot_skips_dot_files_caches_and_venvs(project: Path) -> None:
    make_project(
        project,
        {
            ".env": "SECRET=1",
            ".git/config": "[core]",
            "lib/.hidden.py": "x = (",
            "__pycache__/program.cpython-311.pyc": b"\x00",
            "lib/__pycache__/util.cpython-311.pyc": b"\x00",
            "stray.pyc": b"\x00",
            "node_modules/left-pad/index.js": "module.exports = 1",
            "venv/lib/site.py": "x = (",
            ".venv/lib/site.py": "x = (",
            "env/lib/site.py": "x = (",
            "myenv/pyvenv.cfg": "home = /usr/bin",
            "myenv/lib/site.py": "x = (",
        },
    )
    snapshot = snapshot_project(project, manifest())
    assert sorted(snapshot.files) == [
        "autokitteh.yaml",
        "data/config.json",
        "helpers.py",
        "lib/util.py",
        "program.py",
    ]


def test_digest_is_stable_and_content_sensitive(project: Path) -> None:
    first = snapshot_project(project, manifest())
    assert snapshot_project(project, manifest()).digest == first.digest
    (project / "helpers.py").write_text("def answer():\n    return 43\n")
    assert snapshot_project(project, manifest()).digest != first.digest


def test_digest_depends_on_paths(project: Path) -> None:
    first = snapshot_project(project, manifest())
    (project / "lib/util.py").rename(project / "lib/util2.py")
    assert snapshot_project(project, manifest()).digest != first.digest


def test_digest_is_unambiguous(tmp_path: Path) -> None:
    # Without length prefixes, "a" + "bc" and "ab" + "c" would hash the same bytes.
    one = snapshot_project(make_project(tmp_path / "one", {"a": "bc"}), manifest())
    two = snapshot_project(make_project(tmp_path / "two", {"ab": "c"}), manifest())
    assert one.digest != two.digest


def test_syntax_error_names_file_line_column_and_text(project: Path) -> None:
    (project / "lib/broken.py").write_text("import os\nvalue = = 1\n")
    with pytest.raises(BuildError) as info:
        snapshot_project(project, manifest())
    assert str(info.value) == "lib/broken.py:2:9: invalid syntax\n    value = = 1"
    assert info.value.details == {"file": "lib/broken.py", "line": 2, "column": 9}


def test_indentation_error_is_reported(project: Path) -> None:
    (project / "bad.py").write_text("def f():\nreturn 1\n")
    with pytest.raises(BuildError, match=r"^bad\.py:2:\d+: expected an indented block") as info:
        snapshot_project(project, manifest())
    assert "return 1" in str(info.value)


def test_compile_time_errors_are_caught(project: Path) -> None:
    # "return" outside a function parses fine but does not compile.
    (project / "bad.py").write_text("x = 1\nreturn x\n")
    with pytest.raises(BuildError, match=r"^bad\.py:2:\d+: 'return' outside function"):
        snapshot_project(project, manifest())


def test_missing_function_lists_top_level_functions(project: Path) -> None:
    with pytest.raises(BuildError) as info:
        snapshot_project(project, manifest("program.py:on_http", "program.py:on_webhook"))
    message = str(info.value)
    assert message.startswith('program.py:1: no top-level function "on_webhook" (defined: on_http, on_tick)')
    assert 'trigger "t1"' in message


def test_nested_function_does_not_count(project: Path) -> None:
    with pytest.raises(BuildError, match='no top-level function "nested"'):
        snapshot_project(project, manifest("program.py:nested"))


def test_missing_call_file(project: Path) -> None:
    with pytest.raises(BuildError, match=r'no file "main\.py" in the project') as info:
        snapshot_project(project, manifest("main.py:run"))
    assert info.value.details["file"] == "main.py"


def test_call_into_subdirectory(project: Path) -> None:
    (project / "lib/jobs.py").write_text("def run(event):\n    pass\n")
    snapshot = snapshot_project(project, manifest("./lib/jobs.py:run"))
    assert "lib/jobs.py" in snapshot.files


def test_call_to_skipped_file_is_missing(project: Path) -> None:
    make_project(project, {"venv/handler.py": "def run(event):\n    pass\n"})
    with pytest.raises(BuildError, match=r'no file "venv/handler\.py"'):
        snapshot_project(project, manifest("venv/handler.py:run"))


def test_symlink_outside_root_is_refused(tmp_path: Path, project: Path) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_text("password")
    (project / "leak.txt").symlink_to(secret)
    with pytest.raises(BuildError, match="outside the project") as info:
        snapshot_project(project, manifest())
    assert info.value.details["file"] == "leak.txt"


def test_symlinked_directory_outside_root_is_refused(tmp_path: Path, project: Path) -> None:
    (tmp_path / "elsewhere").mkdir()
    (project / "lib/ext").symlink_to(tmp_path / "elsewhere")
    with pytest.raises(BuildError, match=r"^lib/ext: symlink points outside the project"):
        snapshot_project(project, manifest())


def test_symlinks_inside_root_are_followed(project: Path) -> None:
    (project / "alias.py").symlink_to(project / "helpers.py")
    (project / "lib2").symlink_to(project / "lib")
    (project / "lib/loop").symlink_to(project)  # must not recurse forever
    snapshot = snapshot_project(project, manifest())
    assert snapshot.files["alias.py"] == snapshot.files["helpers.py"]
    assert snapshot.files["lib2/util.py"] == b"X = 1\n"
    assert not any(path.startswith("lib/loop/") for path in snapshot.files)


def test_broken_symlink_is_refused(project: Path) -> None:
    (project / "gone.py").symlink_to(project / "nowhere.py")
    with pytest.raises(BuildError, match=r"^gone\.py: broken symlink"):
        snapshot_project(project, manifest())


def test_big_file_is_refused_with_size_and_limit(project: Path) -> None:
    (project / "data/big.bin").write_bytes(b"x" * 2048)
    with pytest.raises(BuildError) as info:
        snapshot_project(project, manifest(), max_file_bytes=1024)
    assert str(info.value) == "data/big.bin: file is 2048 bytes, over the limit of 1024 bytes per file"


def test_total_size_is_limited(project: Path) -> None:
    for i in range(5):
        (project / f"data/chunk{i}.bin").write_bytes(b"x" * 500)
    with pytest.raises(BuildError, match="over the limit of 2000 bytes in total"):
        snapshot_project(project, manifest(), max_file_bytes=1000, max_total_bytes=2000)


def test_missing_project_directory(tmp_path: Path) -> None:
    with pytest.raises(BuildError, match="does not exist"):
        snapshot_project(tmp_path / "nope", manifest())


def test_write_snapshot_is_read_only_and_idempotent(project: Path, tmp_path: Path) -> None:
    snapshot = snapshot_project(project, manifest())
    dest = tmp_path / "builds" / snapshot.digest
    write_snapshot(snapshot, dest)

    written = {p.relative_to(dest).as_posix(): p.read_bytes() for p in dest.rglob("*") if p.is_file()}
    assert written == snapshot.files
    for path in [dest, *dest.rglob("*")]:
        mode = stat.S_IMODE(path.stat().st_mode)
        assert mode == (0o555 if path.is_dir() else 0o444), path
    assert os.listdir(dest.parent) == [snapshot.digest]  # no temporary directory left behind

    before = {p: p.stat().st_mtime_ns for p in dest.rglob("*")}
    write_snapshot(snapshot, dest)
    assert {p: p.stat().st_mtime_ns for p in dest.rglob("*")} == before
    assert os.listdir(dest.parent) == [snapshot.digest]


def test_write_snapshot_refuses_escaping_paths(tmp_path: Path) -> None:
    snapshot = Snapshot(files={"../evil.py": b"x"}, digest="0" * 64, size=1)
    with pytest.raises(BuildError, match="outside the build directory"):
        write_snapshot(snapshot, tmp_path / "builds" / "b")
    assert not (tmp_path / "evil.py").exists()
    assert os.listdir(tmp_path / "builds") == []


def snapshot_with_requirements(tmp_path: Path, name: str, requirements: str | None) -> Snapshot:
    files: dict[str, str | bytes] = {"program.py": "x = 1\n"}
    if requirements is not None:
        files["requirements.txt"] = requirements
    return snapshot_project(make_project(tmp_path / name, files), manifest())


def test_requirements_hash_none_without_requirements(tmp_path: Path) -> None:
    assert requirements_hash(snapshot_with_requirements(tmp_path, "a", None)) is None
    assert requirements_hash(snapshot_with_requirements(tmp_path, "b", "# nothing\n\n")) is None


def test_requirements_hash_none_when_only_autokitteh(tmp_path: Path) -> None:
    text = "# the SDK\nautokitteh>=0.1  # provided by akd\nAutoKitteh\n"
    assert requirements_hash(snapshot_with_requirements(tmp_path, "a", text)) is None


def test_requirements_hash_is_normalised(tmp_path: Path) -> None:
    one = requirements_hash(snapshot_with_requirements(tmp_path, "a", "requests==2.32.0\nhttpx\n"))
    two = requirements_hash(
        snapshot_with_requirements(tmp_path, "b", "# deps\nhttpx   # client\n\nautokitteh\n  requests==2.32.0\n")
    )
    three = requirements_hash(snapshot_with_requirements(tmp_path, "c", "requests==2.31.0\nhttpx\n"))
    assert one is not None
    assert len(one) == 64
    assert one == two
    assert one != three


def test_non_utf8_file_name_is_refused(project: Path) -> None:
    with open(os.path.join(os.fsencode(project), b"caf\xe9.txt"), "wb") as fh:
        fh.write(b"x")
    with pytest.raises(BuildError, match="not valid UTF-8"):
        snapshot_project(project, manifest())
