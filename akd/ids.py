"""Prefixed, sortable, unique ids: ``ses_`` + 26 lowercase base32 characters.

The first 10 characters encode the time in milliseconds (like a ULID), the rest are
random, so ids sort by creation time.
"""

from __future__ import annotations

import hashlib
import os
import time

_ALPHABET = "0123456789abcdefghjkmnpqrstvwxyz"  # Crockford base32, lowercase
PREFIXES = ("prj", "bld", "dep", "trg", "evt", "ses", "sub", "con")


def _encode(value: int, length: int) -> str:
    chars = []
    for _ in range(length):
        chars.append(_ALPHABET[value & 31])
        value >>= 5
    return "".join(reversed(chars))


def new_id(prefix: str) -> str:
    """A new id such as ``ses_01jd3k...``; ``prefix`` is one of ``PREFIXES``."""
    if prefix not in PREFIXES:
        raise ValueError(f"unknown id prefix {prefix!r}")
    millis = time.time_ns() // 1_000_000
    rand = int.from_bytes(os.urandom(10), "big")
    return f"{prefix}_{_encode(millis, 10)}{_encode(rand, 16)}"


def derived_id(prefix: str, millis: int, key: str) -> str:
    """A deterministic id for something that must be created once (e.g. one schedule tick)."""
    digest = int.from_bytes(hashlib.sha256(key.encode()).digest()[:10], "big")
    return f"{prefix}_{_encode(millis, 10)}{_encode(digest, 16)}"


def has_prefix(value: str, prefix: str) -> bool:
    """Whether ``value`` looks like an id of kind ``prefix``."""
    return value.startswith(prefix + "_") and len(value) == len(prefix) + 27
