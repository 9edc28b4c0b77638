"""Encryption at rest for secret vars: Fernet with a key kept in ``<data_dir>/secret.key``.

The key file is created on first use with mode 0600 and never leaves the data dir::

    box = SecretBox(data_dir)
    blob = box.encrypt("s3cret")      # bytes, safe to store in SQLite
    assert box.decrypt(blob) == "s3cret"

Losing the key file makes stored secrets unreadable; they must then be set again
(``akctl var set NAME VALUE --secret``, or a redeploy for manifest vars).
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import tempfile
from pathlib import Path

from cryptography.fernet import Fernet, InvalidToken

from akd.errors import FailedPrecondition

__all__ = ["KEY_FILE", "MASK", "SecretBox"]

KEY_FILE = "secret.key"
# What a secret value looks like wherever it is shown without --reveal.
MASK = "********"


class SecretBox:
    """Encrypts and decrypts text with the data dir's key (created lazily)."""

    def __init__(self, data_dir: Path) -> None:
        self.path = data_dir / KEY_FILE
        self._fernet: Fernet | None = None

    def encrypt(self, text: str) -> bytes:
        return self._key().encrypt(text.encode("utf-8"))

    def open(self, blob: bytes, encrypted: bool) -> str:
        """A stored value as text: decrypted when it was stored encrypted."""
        return self.decrypt(blob) if encrypted else bytes(blob).decode("utf-8", "replace")

    def decrypt(self, blob: bytes) -> str:
        try:
            return self._key().decrypt(bytes(blob)).decode("utf-8")
        except InvalidToken:
            raise FailedPrecondition(
                f"a stored secret cannot be decrypted with {self.path} (was the key replaced?); "
                "set the secret again with `akctl var set NAME VALUE --secret` or redeploy"
            ) from None

    def exists(self) -> bool:
        return self.path.is_file()

    def fingerprint(self) -> str:
        """A short hash of the key (creating it when missing): tells keys apart, reveals nothing."""
        _load_or_create(self.path)
        return hashlib.sha256(_read(self.path)).hexdigest()[:16]

    def _key(self) -> Fernet:
        if self._fernet is None:
            self._fernet = _cached_key(self.path)
        return self._fernet


# Keys read before, by path: a box per request would otherwise read and parse the key
# file every time. A replaced file (another inode, size or mtime) is read again.
_KEYS: dict[Path, tuple[tuple[int, int, int], Fernet]] = {}


def _cached_key(path: Path) -> Fernet:
    try:
        st = path.stat()
    except FileNotFoundError:
        return Fernet(_load_or_create(path))
    stamp = (st.st_ino, st.st_size, st.st_mtime_ns)
    known = _KEYS.get(path)
    if known is not None and known[0] == stamp:
        return known[1]
    fernet = Fernet(_read(path))
    _KEYS[path] = (stamp, fernet)
    return fernet


def _load_or_create(path: Path) -> bytes:
    with contextlib.suppress(FileNotFoundError):
        return _read(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    # Written to a private temporary file, then linked into place: a concurrent
    # creator either wins the link or reads the complete key of the winner.
    fd, tmp = tempfile.mkstemp(prefix=".secret.key.", dir=path.parent)  # mode 0600
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(Fernet.generate_key())
            fh.flush()
            os.fsync(fh.fileno())
        with contextlib.suppress(FileExistsError):
            os.link(tmp, path)
    finally:
        os.unlink(tmp)
    return _read(path)


def _read(path: Path) -> bytes:
    key = path.read_bytes().strip()
    if len(key) != 44:
        raise FailedPrecondition(f"{path} is not a valid secret key (expected 44 base64 characters)")
    return key
