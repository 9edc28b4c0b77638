"""Journaled step outcomes that are known to replay.

A step's outcome is committed as a pickle and must unpickle on every replay, possibly
in a later runner. Many exceptions do not survive ``pickle.loads``: vendor SDK errors
whose ``__init__`` takes other arguments than their ``args`` (``openai.APIStatusError``,
``slack_sdk.errors.SlackApiError``), keyword-only constructors, attributes that cannot
be pickled. So an outcome is pickled *and* unpickled before user code sees it, and an
exception that fails the round trip is journaled as an :class:`ExceptionImage`: its
class (by module and qualified name), message, ``args`` and those attributes that
round-trip on their own. Unpickling the image rebuilds an instance of the same class
(without calling its ``__init__``) whose ``str()`` is the original message, or, when
the class will not give the same ``str()`` that way, an instance of a subclass
stand-in with the same name that does. Either way ``except TheirError`` and
``str(e)`` behave as they did when the step ran.

User code always gets the unpickled outcome, on the first run as on replay, so a
session behaves the same whether it ran in one go or was replayed.
"""

from __future__ import annotations

import importlib
import io
import pickle
from typing import Any

from akd.runner import compact

PROTOCOL = pickle.HIGHEST_PROTOCOL


class _JournalPickler(pickle.Pickler):
    """Pickles credential-holding vendor objects in their compact form (akd.runner.compact)."""

    def reducer_override(self, obj: Any) -> Any:
        return compact.reducer(obj)


def dumps(value: Any) -> bytes:
    """``pickle.dumps`` for the journal: vendor clients and their tokens are not written."""
    buf = io.BytesIO()
    _JournalPickler(buf, protocol=PROTOCOL).dump(value)
    return buf.getvalue()


class NotReplayable(Exception):
    """A value (not an exception) that does not survive pickle and unpickle."""


def round_trip(outcome: tuple[bool, Any]) -> tuple[bytes, tuple[bool, Any]]:
    """The outcome's journal bytes and what replay will give for them.

    Raises NotReplayable for a successful value that cannot round-trip; an exception that
    cannot is replaced by its image.
    """
    ok, value = outcome
    try:
        blob = dumps(outcome)
        return blob, pickle.loads(blob)
    except Exception as exc:
        if ok and not isinstance(value, BaseException):
            raise NotReplayable(str(exc) or type(exc).__name__) from exc
    # An exception (raised by the step, or made by it: a vendor error's constructor).
    blob = dumps((ok, image_of(value)))
    return blob, pickle.loads(blob)


class ExceptionImage:
    """What pickle stores for an exception that does not round-trip by itself."""

    def __init__(self, module: str, qualname: str, message: str, args: tuple[Any, ...], attrs: dict[str, Any]):
        self.module, self.qualname, self.message, self.args, self.attrs = module, qualname, message, args, attrs

    def __reduce__(self) -> tuple[Any, tuple[Any, ...]]:
        return (rebuild, (self.module, self.qualname, self.message, self.args, self.attrs))


def image_of(exc: BaseException) -> ExceptionImage:
    cls = type(exc)
    try:
        message = str(exc)
    except Exception:
        message = f"<the {cls.__name__}'s str() raised>"
    args = exc.args if _replays(exc.args) else (message,)
    attrs = {k: v for k, v in vars(exc).items() if not k.startswith("__") and _replays(v)} if _has_dict(exc) else {}
    return ExceptionImage(cls.__module__, cls.__qualname__, message, args, attrs)


def rebuild(module: str, qualname: str, message: str, args: tuple[Any, ...], attrs: dict[str, Any]) -> BaseException:
    """The exception an image stands for: its class if it can say the same, else a stand-in."""
    cls = _find_class(module, qualname)
    if cls is not None:
        exc = _bare(cls, args, attrs)
        if exc is not None and _says(exc, message):
            return exc
    base: type[BaseException] = cls if cls is not None else Exception
    stand_in = _stand_in(base, qualname, module)
    made = _bare(stand_in, args, attrs) or stand_in.__new__(stand_in)
    made._akd_message = message  # type: ignore[attr-defined]
    return made


def _bare(cls: type[BaseException], args: tuple[Any, ...], attrs: dict[str, Any]) -> BaseException | None:
    """An instance made without ``__init__`` (which may want arguments the image lacks)."""
    try:
        exc = cls.__new__(cls)
        exc.args = args
        if attrs and _has_dict(exc):
            vars(exc).update(attrs)
    except Exception:
        return None
    return exc


def _says(exc: BaseException, message: str) -> bool:
    try:
        return str(exc) == message
    except Exception:
        return False


# Made once per (base, qualname, module): a rebuilt exception's class stays the same object.
_STAND_INS: dict[tuple[type[BaseException], str, str], type[BaseException]] = {}


def _stand_in(base: type[BaseException], qualname: str, module: str) -> type[BaseException]:
    """A subclass of ``base`` named like it whose instances say the journaled message."""
    key = (base, qualname, module)
    cls = _STAND_INS.get(key)
    if cls is not None:
        return cls

    def __str__(self: BaseException) -> str:
        return str(getattr(self, "_akd_message", ""))

    def __reduce__(self: BaseException) -> tuple[Any, tuple[Any, ...]]:
        attrs = {k: v for k, v in vars(self).items() if k != "_akd_message"}
        return (rebuild, (module, qualname, str(self), self.args, attrs))

    name = qualname.rpartition(".")[2]
    namespace = {"__str__": __str__, "__reduce__": __reduce__, "__module__": module, "__qualname__": qualname}
    try:
        cls = type(name, (base,), namespace)
    except TypeError:  # a class that cannot be subclassed: keep the name on a plain Exception
        cls = type(name, (Exception,), namespace)
    _STAND_INS[key] = cls
    return cls


def _find_class(module: str, qualname: str) -> type[BaseException] | None:
    try:
        obj: Any = importlib.import_module(module)
        for part in qualname.split("."):
            obj = getattr(obj, part)
    except Exception:
        return None
    return obj if isinstance(obj, type) and issubclass(obj, BaseException) else None


def _replays(value: Any) -> bool:
    try:
        pickle.loads(pickle.dumps(value, protocol=PROTOCOL))
    except Exception:
        return False
    return True


def _has_dict(exc: BaseException) -> bool:
    return hasattr(exc, "__dict__")
