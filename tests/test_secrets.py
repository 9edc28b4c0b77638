"""akd.secrets (encryption at rest) and the masked manifest copy builds keep."""

from __future__ import annotations

import asyncio
import stat
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from akd.errors import FailedPrecondition
from akd.manifest import parse_manifest
from akd.secrets import MASK, SecretBox
from akd.services.deploy import deploy, redact_secrets
from akd.store.db import SqliteDatabase
from akd.store.vars import load_env_vars


def test_round_trip_and_key_file(tmp_path: Path) -> None:
    box = SecretBox(tmp_path / "data")
    blob = box.encrypt("s3cret value ✓")
    assert b"s3cret" not in blob
    assert box.decrypt(blob) == "s3cret value ✓"
    key = tmp_path / "data" / "secret.key"
    assert stat.S_IMODE(key.stat().st_mode) == 0o600
    assert len(key.read_bytes().strip()) == 44


def test_key_is_created_once_and_shared(tmp_path: Path) -> None:
    boxes = [SecretBox(tmp_path) for _ in range(16)]
    with ThreadPoolExecutor(8) as pool:
        blobs = list(pool.map(lambda b: b.encrypt("x"), boxes))
    assert {SecretBox(tmp_path).decrypt(blob) for blob in blobs} == {"x"}
    assert [p.name for p in tmp_path.iterdir()] == ["secret.key"]  # no temporary files left


def test_encryption_is_randomised(tmp_path: Path) -> None:
    box = SecretBox(tmp_path)
    assert box.encrypt("same") != box.encrypt("same")


def test_another_key_cannot_decrypt(tmp_path: Path) -> None:
    blob = SecretBox(tmp_path / "one").encrypt("x")
    with pytest.raises(FailedPrecondition, match="cannot be decrypted"):
        SecretBox(tmp_path / "two").decrypt(blob)


def test_corrupt_key_file_is_reported(tmp_path: Path) -> None:
    (tmp_path / "secret.key").write_text("short")
    with pytest.raises(FailedPrecondition, match="not a valid secret key"):
        SecretBox(tmp_path).encrypt("x")


MANIFEST = """\
version: v1
# a comment that stays
project:
  name: p
  vars:
    - name: BLOCK
      value: |
        first-secret-line
        second-secret-line
      secret: true
    - {name: FLOW, value: "flow-secret", secret: true}
    - name: PLAIN
      value: visible
    - name: LAST
      secret: yes
      value: last-secret
  connections:
    - name: c
      integration: slack
      vars:
        - name: TOKEN
          value: conn-secret
          secret: true
"""


def test_redaction_masks_every_secret_and_keeps_the_rest() -> None:
    redacted = redact_secrets(MANIFEST, parse_manifest(MANIFEST))
    assert "secret-line" not in redacted and "flow-secret" not in redacted
    assert "last-secret" not in redacted and "conn-secret" not in redacted
    assert "# a comment that stays" in redacted and "value: visible" in redacted
    values = {v.name: v.value for v in parse_manifest(redacted).vars}
    assert values == {"BLOCK": MASK, "FLOW": MASK, "PLAIN": "visible", "LAST": MASK}


def test_redaction_leaves_manifests_without_secrets_alone() -> None:
    text = "version: v2\nproject:\n  name: p\n  vars:\n    - name: A\n      value: a\n"
    assert redact_secrets(text, parse_manifest(text)) == text


def test_deploy_keeps_secrets_out_of_the_database_and_the_build(tmp_path: Path) -> None:
    lines = [
        "version: v2",
        "project:",
        "  name: p",
        "  vars:",
        "    - name: K",
        '      value: "crlf-s3cret"',
        "      secret: true",
    ]
    text = "\r\n".join(lines) + "\r\n"
    files = {"autokitteh.yaml": b"\xef\xbb\xbf" + text.encode(), "program.py": b"x = 1\n"}

    async def run() -> dict[str, str]:
        db = SqliteDatabase(tmp_path / "akd.db")
        await db.open()
        try:
            result = await deploy(db, tmp_path, "http://akd", text, files)
            return await load_env_vars(db, tmp_path, result.project_id)
        finally:
            await db.close()

    assert asyncio.run(run()) == {"K": "crlf-s3cret"}
    stored = [p for p in tmp_path.rglob("*") if p.is_file() and p.name != "secret.key"]
    assert any(p.name == "autokitteh.yaml" for p in stored)
    for path in stored:
        assert b"crlf-s3cret" not in path.read_bytes(), path
