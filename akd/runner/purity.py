"""Which callables run directly and which become journaled steps.

Deterministic code runs directly: the user's own functions, builtins without I/O,
methods of builtin values, the SDK and an allow-list of pure stdlib modules.
Everything else (clock, randomness, files, network, third-party libraries) is a step
whose outcome is journaled and replayed.
"""

from __future__ import annotations

import builtins
import types
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

PURE_MODULES = frozenset(
    """
    abc array ast base64 binascii bisect builtins calendar cmath codecs collections
    colorsys contextlib copy csv dataclasses datetime decimal difflib enum errno fnmatch
    fractions functools graphlib hashlib heapq hmac html ipaddress itertools json
    keyword math numbers operator pprint re reprlib shlex statistics string stringprep
    struct textwrap types typing unicodedata urllib.parse uuid weakref zlib zoneinfo
    _json _collections _functools _operator _heapq _bisect _struct _sre _hashlib _blake2
    _sha1 _sha2 _sha256 _sha512 _sha3 _md5 _datetime _pydatetime _decimal _pydecimal
    _string _abc _codecs _csv _statistics posixpath
    """.split()  # noqa: SIM905
)

# Names that read the clock or entropy even inside otherwise pure modules.
IMPURE_NAMES = frozenset(
    {
        "datetime.now",
        "datetime.utcnow",
        "datetime.today",
        "date.today",
        "uuid1",
        "uuid4",
        "getnode",
        "_random_getnode",
    }
)

IMPURE_BUILTINS = frozenset({"open", "input", "breakpoint", "exit", "quit", "help"})

# Builtins that must see the caller's frame: never wrapped by the import hook.
FRAME_BUILTINS = frozenset({"super", "locals", "vars", "globals", "eval", "exec", "dir", "__import__"})

_BUILTIN_CALLABLES = (
    types.BuiltinFunctionType,
    types.BuiltinMethodType,
    types.MethodWrapperType,
    types.WrapperDescriptorType,
    types.MethodDescriptorType,
    types.ClassMethodDescriptorType,
)


def _module_of(obj: Any) -> str:
    mod = getattr(obj, "__module__", None)
    if isinstance(mod, str):
        return mod
    return type(obj).__module__


def _module_pure(module: str) -> bool:
    if module in PURE_MODULES:
        return True
    return module.split(".")[0] in PURE_MODULES


def _qualname(fn: Any) -> str:
    return str(getattr(fn, "__qualname__", getattr(fn, "__name__", "")))


def is_pure(fn: Any) -> bool:
    """Whether ``fn`` is deterministic library code that may run directly."""
    if isinstance(fn, type):
        return _module_pure(fn.__module__) or fn.__module__ == "builtins"
    if isinstance(fn, _BUILTIN_CALLABLES):
        owner = getattr(fn, "__self__", None)
        if owner is builtins or owner is None:
            return fn.__name__ not in IMPURE_BUILTINS
        if isinstance(owner, types.ModuleType):
            return _module_pure(owner.__name__) and _qualname(fn) not in IMPURE_NAMES
        owner_type = owner if isinstance(owner, type) else type(owner)
        name = f"{owner_type.__name__}.{fn.__name__}"
        return (owner_type.__module__ == "builtins" or _module_pure(owner_type.__module__)) and name not in IMPURE_NAMES
    if isinstance(fn, types.MethodType):
        return is_pure(fn.__func__)
    if isinstance(fn, types.FunctionType):
        name = fn.__name__
        return _module_pure(_module_of(fn)) and name not in IMPURE_NAMES and _qualname(fn) not in IMPURE_NAMES
    return False


def describe(fn: Any) -> str:
    """A short, readable name for a callable, used in the session log."""
    owner = getattr(fn, "__self__", None)
    name = _qualname(fn) or type(fn).__name__
    if isinstance(owner, types.ModuleType):
        return f"{owner.__name__}.{name}"
    module = _module_of(fn)
    if module and module != "builtins" and not name.startswith(module):
        return f"{module}.{name}"
    return name


MASK = "********"
# Env var names that hold credentials whether or not akd marked them secret (matched on
# the upper-cased name's end: GITHUB_TOKEN, slack__private_app_token, OPENAI_API_KEY...).
SECRET_SUFFIXES = ("TOKEN", "SECRET", "PASSWORD", "PASSWD", "PASS", "KEY", "CREDENTIALS", "AUTH")
# Shorter values are not masked: hiding every "1" or "on" would garble the log, not protect it.
MIN_SECRET_LEN = 4


def secret_values(environ: Mapping[str, str], secret_names: Iterable[str] = ()) -> tuple[str, ...]:
    """The values to mask in step logs: those of env vars akd marked secret (``secret_names``:
    secret project vars and connection vars) or whose names look secret; longest first."""
    marked = set(secret_names)
    found = {
        value
        for name, value in environ.items()
        if (name in marked or name.upper().endswith(SECRET_SUFFIXES)) and len(value) >= MIN_SECRET_LEN
    }
    return tuple(sorted(found, key=len, reverse=True))


def mask(text: str, secrets: Sequence[str]) -> str:
    """``text`` with each secret, as is or as ``repr`` escapes it, replaced by ``********``."""
    for value in secrets:
        if value in text:
            text = text.replace(value, MASK)
        escaped = repr(value)[1:-1]
        if escaped != value and escaped in text:
            text = text.replace(escaped, MASK)
    return text


def summarize_args(args: tuple[Any, ...], kwargs: dict[str, Any], limit: int = 200, secrets: Sequence[str] = ()) -> str:
    """A bounded ``repr`` of call arguments for the log (never the full payload), secrets masked."""
    parts = [_short_repr(a, secrets) for a in args] + [f"{k}={_short_repr(v, secrets)}" for k, v in kwargs.items()]
    return _cut(", ".join(parts), limit)


def summarize_result(value: Any, limit: int = 200, secrets: Sequence[str] = ()) -> str:
    """A bounded ``repr`` of a step's result for the log, secrets masked before it is cut
    (so no cut leaves a secret's beginning behind)."""
    return result_reprs(value, secrets, limit)[0]


FULL_RESULT_CHARS = 8192  # the longest result repr kept whole ("full value on request")


def result_reprs(value: Any, secrets: Sequence[str] = (), limit: int = 200) -> tuple[str, str | None]:
    """The step log's short result repr, and the whole one when it is longer (up to
    FULL_RESULT_CHARS, else None); secrets masked before any cut."""
    text = mask(_repr(value), secrets)
    short = _cut(text, limit)
    return short, (text if short != text and len(text) <= FULL_RESULT_CHARS else None)


def _cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _repr(value: Any) -> str:
    try:
        return repr(value)
    except Exception:
        return f"<{type(value).__name__}>"


def _short_repr(value: Any, secrets: Sequence[str] = ()) -> str:
    return _cut(mask(_repr(value), secrets), 60)
