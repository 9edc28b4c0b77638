"""Parse and validate ``autokitteh.yaml`` manifests (DESIGN.md section 3).

The parser works on the composed YAML node tree rather than on loaded Python
values, so that every error can point at the line of the offending key or value::

    >>> parse_manifest("version: v1\\nproject:\\n  name: hello\\n").name
    'hello'

Both AutoKitteh schema versions are accepted; they differ only in the default of
``is_durable`` (``v1``: durable, ``v2``: not durable).

Every problem is reported at once: the parser records each one and goes on with the
next key or item; several are raised together as :class:`ManifestErrors` (a
``ManifestError`` located at the first). Misspelt keys and trigger types come with a
"did you mean" suggestion.
"""

from __future__ import annotations

import difflib
import keyword
import re
import zoneinfo
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Protocol, TypeVar

import yaml
from croniter import croniter
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from akd import integrations
from akd.errors import InvalidArgument, ManifestError
from akd.models import (
    CallSpec,
    Concurrency,
    ConnectionSpec,
    Debounce,
    Dedupe,
    FlowControl,
    Manifest,
    RateLimit,
    TriggerSpec,
    VarSpec,
)

__all__ = [
    "MAX_DEPTH", "MAX_MANIFEST_BYTES", "ManifestErrors", "go_duration_seconds", "load_manifest", "parse_manifest",
    "suggestion",
]  # fmt: skip

MAX_MANIFEST_BYTES = 1024 * 1024
MAX_DEPTH = 50

VERSIONS = ("v1", "v2")
TRIGGER_TYPES = ("webhook", "schedule", "connection")

_TOP_KEYS = ("version", "project")
_PROJECT_KEYS = ("name", "display_name", "vars", "connections", "triggers", "retry_policy")
_RETRY_KEYS = ("maximum_attempts", "initial_interval", "backoff_coefficient", "maximum_interval")
_VAR_KEYS = ("name", "value", "secret", "description")
_CONNECTION_KEYS = ("name", "integration", "vars")
# "webhook: {}" is how older AutoKitteh manifests marked a webhook trigger.
_TRIGGER_KEYS = (
    "name", "type", "event_type", "filter", "call", "is_sync", "is_durable",
    "schedule", "timezone", "connection", "webhook",
    "concurrency", "debounce", "dedupe", "rate_limit",
)  # fmt: skip
# Flow control (an akd extension): each key's allowed and required sub-keys.
_FLOW_KEYS: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "concurrency": (("limit", "key"), ("limit",)),
    "debounce": (("period", "key"), ("period",)),
    "dedupe": (("key", "for"), ("key", "for")),
    "rate_limit": (("limit", "period", "key"), ("limit", "period")),
}

# Go's regexp \w (what AutoKitteh validates with) is ASCII-only.
_NAME_RE = re.compile(r"\w+", re.ASCII)
# Var names become environment variables, hence the stricter shape.
_VAR_NAME_RE = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_INTEGRATION_RE = re.compile(r"[A-Za-z0-9_.\-]+")
_GO_DURATION_RE = re.compile(r"(?:(?:\d+(?:\.\d*)?|\.\d+)(?:ns|us|µs|μs|ms|s|m|h))+")
_GO_DURATION_PART_RE = re.compile(r"(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|μs|ms|s|m|h)")
_DURATION_UNITS = {"ns": 1e-9, "us": 1e-6, "µs": 1e-6, "μs": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0}
_CRON_FIELD_RE = re.compile(r"[0-9A-Za-z*?/,\-#]+")
# croniter understands Jenkins-style "H" (hash) and "R" (random) fields; Temporal does not.
_CRON_EXTENSION_RE = re.compile(r"(?<![A-Za-z])[HR](?![A-Za-z])")
_CRON_DESCRIPTORS = ("@yearly", "@annually", "@monthly", "@weekly", "@daily", "@midnight", "@hourly")

_TAG_NULL = "tag:yaml.org,2002:null"
_TAG_BOOL = "tag:yaml.org,2002:bool"

Fields = dict[str, tuple[ScalarNode, Node]]


class _Named(Protocol):
    @property
    def name(self) -> str: ...


_N = TypeVar("_N", bound=_Named)
_T = TypeVar("_T")


class ManifestErrors(ManifestError):
    """Several manifest problems, one per line in document order.

    ``file``, ``line`` and ``key`` are the first problem's; ``errors`` holds them all
    and ``details["errors"]`` their locations and messages.
    """

    def __init__(self, errors: Sequence[ManifestError]) -> None:
        first = errors[0]
        listed = [{**e.details, "message": e.message} for e in errors]
        InvalidArgument.__init__(
            self, "\n".join(e.message for e in errors), details={**first.details, "errors": listed}
        )
        self.file, self.line, self.key = first.file, first.line, first.key
        self.errors = tuple(errors)


def suggestion(word: str, options: Iterable[str]) -> str:
    """`` (did you mean "x"?)`` for the option closest to a misspelt ``word``, else ""."""
    close = difflib.get_close_matches(word, list(options), n=1, cutoff=0.6)
    return f' (did you mean "{close[0]}"?)' if close else ""


def _raise_all(errors: list[ManifestError]) -> None:
    if len(errors) == 1:
        raise errors[0]
    if errors:
        raise ManifestErrors(sorted(errors, key=lambda e: e.line or 0))


def load_manifest(path: Path) -> Manifest:
    """Read and validate the manifest at ``path``; errors name ``path`` and a line."""
    filename = str(path)
    try:
        size = path.stat().st_size
        if size > MAX_MANIFEST_BYTES:
            raise ManifestError(_too_big(size), file=filename, line=1)
        data = path.read_bytes()
    except OSError as exc:
        raise ManifestError(f"cannot read manifest: {exc.strerror or exc}", file=filename) from exc
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise ManifestError("expected UTF-8 text", file=filename, line=line) from exc
    return parse_manifest(text, filename)


def parse_manifest(text: str, filename: str = "autokitteh.yaml") -> Manifest:
    """Validate manifest ``text`` into a :class:`Manifest`.

    Raises :class:`ManifestError` located by ``filename``, a 1-based line and a
    key path such as ``project.triggers[2].call``.
    """
    size = len(text.encode("utf-8", errors="replace"))
    if size > MAX_MANIFEST_BYTES:
        raise ManifestError(_too_big(size), file=filename, line=1)
    root = _compose(text, filename)
    parser = _Parser(filename)
    manifest = parser.manifest(root)
    _raise_all(parser.errors)
    assert manifest is not None  # only None when a problem was recorded
    return manifest


def _too_big(size: int) -> str:
    return f"manifest is {size} bytes, over the limit of {MAX_MANIFEST_BYTES} bytes"


class _GuardError(Exception):
    """Raised from inside the YAML composer; turned into a ManifestError outside it."""

    def __init__(self, message: str, line: int | None) -> None:
        super().__init__(message)
        self.message = message
        self.line = line


class _GuardedLoader(yaml.SafeLoader):
    """A SafeLoader that refuses aliases and deep nesting.

    Aliases are the only way a small YAML file expands into a huge structure
    ("billion laughs"); manifests have no use for them, so any alias is refused.
    The composer recurses once per nesting level, so depth is capped as well.
    """

    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        self._depth = 0

    def compose_node(self, parent: Node | None, index: int) -> Node | None:
        self.check_event()  # makes sure current_event holds the next event
        event: yaml.Event = self.current_event
        line = event.start_mark.line + 1 if event.start_mark else None
        if isinstance(event, yaml.AliasEvent):
            raise _GuardError(f'YAML aliases are not allowed (found "*{event.anchor}")', line)
        self._depth += 1
        try:
            if self._depth > MAX_DEPTH:
                raise _GuardError(f"YAML nesting is deeper than {MAX_DEPTH} levels", line)
            return super().compose_node(parent, index)
        finally:
            self._depth -= 1


def _compose(text: str, filename: str) -> MappingNode:
    loader: _GuardedLoader | None = None
    try:
        loader = _GuardedLoader(text)  # already checks for unprintable characters
        root = loader.get_single_node()
    except _GuardError as exc:
        raise ManifestError(exc.message, file=filename, line=exc.line) from None
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark else None
        problem = exc.problem or exc.context or "unreadable document"
        raise ManifestError(f"invalid YAML: {problem}", file=filename, line=line) from None
    except yaml.reader.ReaderError as exc:
        line = text[: exc.position].count("\n") + 1
        message = f"invalid YAML: unacceptable character #x{exc.character:04x} (control characters are not allowed)"
        raise ManifestError(message, file=filename, line=line) from None
    except yaml.YAMLError as exc:
        raise ManifestError(f"invalid YAML: {exc}", file=filename) from None
    finally:
        if loader is not None:
            loader.dispose()
    if root is None or _is_null(root):
        raise ManifestError('manifest is empty: expected a mapping with "version" and "project"', file=filename, line=1)
    if not isinstance(root, MappingNode):
        raise ManifestError(
            f'expected a mapping with "version" and "project" at the top level, got {_kind(root)}',
            file=filename,
            line=_line(root),
        )
    return root


def _line(node: Node) -> int:
    return node.start_mark.line + 1


def _is_null(node: Node) -> bool:
    return isinstance(node, ScalarNode) and node.tag == _TAG_NULL


def _kind(node: Node) -> str:
    if isinstance(node, MappingNode):
        return "a mapping"
    if isinstance(node, SequenceNode):
        return "a list"
    if _is_null(node):
        return "null"
    return _quote(str(node.value))


def _quote(value: str, limit: int = 60) -> str:
    # Keep messages on one short line even when a value is a whole paragraph.
    shown = value if len(value) <= limit else value[: limit - 3] + "..."
    return '"' + shown.replace("\n", "\\n") + '"'


def _name_node(item: Node) -> Node:
    """The value node of an already validated item's ``name`` key."""
    pairs: list[tuple[Node, Node]] = item.value
    for key, value in pairs:
        if isinstance(key, ScalarNode) and key.value == "name":
            return value
    return item


def _child(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


def _one_of(options: Iterable[str]) -> str:
    return ", ".join(f'"{o}"' for o in options)


class _Parser:
    """Walks the node tree; a method raises ManifestError at the right line, and
    ``collect`` records it so that the walk goes on with the next key or item."""

    def __init__(self, filename: str) -> None:
        self.filename = filename
        self.errors: list[ManifestError] = []

    def error(self, message: str, node: Node, path: str) -> ManifestError:
        return ManifestError(message, file=self.filename, line=_line(node), key=path)

    def collect(self, parse: Callable[[], _T], default: _T) -> _T:
        """``parse()``, or ``default`` with its error recorded."""
        try:
            return parse()
        except ManifestErrors as exc:
            self.errors.extend(exc.errors)
        except ManifestError as exc:
            self.errors.append(exc)
        return default

    # -- generic shapes -------------------------------------------------------------

    def mapping(self, node: Node, path: str, allowed: Sequence[str], required: Sequence[str] = ()) -> Fields:
        if not isinstance(node, MappingNode):
            raise self.error(f"expected a mapping, got {_kind(node)}", node, path)
        fields: Fields = {}
        for key_node, value_node in node.value:
            try:
                self.field(fields, key_node, value_node, path, allowed)
            except ManifestError as exc:
                self.errors.append(exc)
        for key in required:
            if key not in fields:
                self.errors.append(self.error(f'missing required key "{key}"', node, _child(path, key)))
        return fields

    def field(self, fields: Fields, key_node: Node, value_node: Node, path: str, allowed: Sequence[str]) -> None:
        """Add one key of a mapping to ``fields``, or raise why it does not belong."""
        if not isinstance(key_node, ScalarNode) or _is_null(key_node):
            raise self.error(f"expected a string key, got {_kind(key_node)}", key_node, path)
        key = str(key_node.value)
        if key in fields:
            first = _line(fields[key][0])
            raise self.error(f'duplicate key "{key}" (first at line {first})', key_node, _child(path, key))
        if key not in allowed:
            hint = suggestion(key, allowed)
            message = f'unknown key "{key}"{hint} (expected one of: {_one_of(allowed)})'
            raise self.error(message, key_node, _child(path, key))
        fields[key] = (key_node, value_node)

    def sequence(self, node: Node, path: str) -> list[Node]:
        if _is_null(node):
            return []
        if not isinstance(node, SequenceNode):
            raise self.error(f"expected a list, got {_kind(node)}", node, path)
        return list(node.value)

    def string(self, fields: Fields, key: str, path: str, *, required: bool = False) -> str:
        if key not in fields:
            return ""
        node = fields[key][1]
        if not isinstance(node, ScalarNode) or (required and _is_null(node)):
            raise self.error(f"expected a string, got {_kind(node)}", node, _child(path, key))
        # AutoKitteh decodes with Go's yaml, which keeps a scalar as written.
        return "" if _is_null(node) else str(node.value)

    def boolean(self, fields: Fields, key: str, path: str) -> bool | None:
        if key not in fields:
            return None
        node = fields[key][1]
        if not isinstance(node, ScalarNode) or node.tag != _TAG_BOOL:
            raise self.error(f"expected true or false, got {_kind(node)}", node, _child(path, key))
        return str(node.value).lower() in ("true", "yes", "on")

    def matching(self, fields: Fields, key: str, path: str, pattern: re.Pattern[str], expected: str) -> str:
        if key not in fields:
            return ""  # a required key: its absence is already recorded
        value = self.string(fields, key, path, required=True)
        if not pattern.fullmatch(value):
            raise self.error(f"expected {expected}, got {_quote(value)}", fields[key][1], _child(path, key))
        return value

    def named_list(
        self, fields: Fields, key: str, path: str, parse: Callable[[Node, str], _N], what: str
    ) -> tuple[_N, ...]:
        """Parse the list under ``key`` item by item, refusing a repeated name."""
        if key not in fields:
            return ()
        list_path = _child(path, key)
        items: list[Node] = self.collect(lambda: self.sequence(fields[key][1], list_path), [])
        specs: list[_N] = []
        seen: dict[str, int] = {}
        for index, node in enumerate(items):
            errors = len(self.errors)
            spec = self.item(parse, node, f"{list_path}[{index}]")
            if spec is None or len(self.errors) > errors:
                continue  # the item's problems are recorded; a half-read item is not kept
            if spec.name in seen:
                message = f'duplicate {what} name "{spec.name}" (first at line {seen[spec.name]})'
                self.errors.append(self.error(message, _name_node(node), f"{list_path}[{index}].name"))
                continue
            seen[spec.name] = _line(node)
            specs.append(spec)
        return tuple(specs)

    def item(self, parse: Callable[[Node, str], _N], node: Node, path: str) -> _N | None:
        try:
            return parse(node, path)
        except ManifestError as exc:
            self.errors.extend(exc.errors if isinstance(exc, ManifestErrors) else [exc])
            return None

    # -- the schema -----------------------------------------------------------------

    def manifest(self, root: MappingNode) -> Manifest | None:
        fields = self.mapping(root, "", _TOP_KEYS, required=_TOP_KEYS)
        version = self.collect(lambda: self.version(fields), "v1") if "version" in fields else "v1"
        if "project" not in fields:
            return None
        return self.collect(lambda: self.project(fields["project"][1], version), None)

    def version(self, fields: Fields) -> str:
        version = self.string(fields, "version", "", required=True)
        if version not in VERSIONS:
            raise self.error(f'expected "v1" or "v2", got {_quote(version)}', fields["version"][1], "version")
        return version

    def project(self, node: Node, version: str) -> Manifest:
        path = "project"
        fields = self.mapping(node, path, _PROJECT_KEYS, required=("name",))
        name = self.collect(
            lambda: self.matching(fields, "name", path, _NAME_RE, "a name of letters, digits and underscores"), ""
        )
        connections = self.named_list(fields, "connections", path, self.connection, "connection")
        known = {c.name for c in connections}
        # A connection with a problem is not kept, but triggers may still name it.
        known |= self.declared_names(fields, "connections")

        def trigger(item: Node, item_path: str) -> TriggerSpec:
            return self.trigger(item, item_path, version, known)

        return Manifest(
            version=version,
            name=name,
            display_name=self.collect(lambda: self.string(fields, "display_name", path), ""),
            vars=self.named_list(fields, "vars", path, self.var, "var"),
            connections=connections,
            triggers=self.named_list(fields, "triggers", path, trigger, "trigger"),
            retry_policy=self.collect(lambda: self.retry_policy(fields, path), {}),
        )

    def declared_names(self, fields: Fields, key: str) -> set[str]:
        """The ``name`` scalars of the items under ``key``, however malformed the rest."""
        node = fields[key][1] if key in fields else None
        if not isinstance(node, SequenceNode):
            return set()
        names = set()
        for item in node.value:
            value = _name_node(item) if isinstance(item, MappingNode) else None
            if isinstance(value, ScalarNode) and value is not item:
                names.add(str(value.value))
        return names

    def retry_policy(self, fields: Fields, path: str) -> dict[str, float]:
        """``project.retry_policy`` (an akd extension): numbers, each >= 0 (backoff >= 1)."""
        if "retry_policy" not in fields:
            return {}
        path = f"{path}.retry_policy"
        policy: dict[str, float] = {}
        for key, (_, node) in self.mapping(fields["retry_policy"][1], path, _RETRY_KEYS).items():
            try:
                value = float(str(node.value)) if isinstance(node, ScalarNode) else -1.0
            except ValueError:
                value = -1.0
            if value < (1.0 if key == "backoff_coefficient" else 0.0):
                raise self.error(f"expected a number >= {1 if key == 'backoff_coefficient' else 0}",
                                 node, f"{path}.{key}")  # fmt: skip
            policy[key] = value
        return policy

    def var(self, node: Node, path: str) -> VarSpec:
        fields = self.mapping(node, path, _VAR_KEYS, required=("name",))
        name = self.matching(fields, "name", path, _VAR_NAME_RE, "a variable name like MY_VAR")
        value = ""
        if "value" in fields:
            value_node = fields["value"][1]
            if not isinstance(value_node, ScalarNode):
                message = f"expected a string, number or boolean, got {_kind(value_node)}"
                raise self.error(message, value_node, _child(path, "value"))
            # Vars reach user code as environment variables: always strings, as written.
            value = "" if _is_null(value_node) else str(value_node.value)
        return VarSpec(
            name=name,
            value=value,
            secret=bool(self.boolean(fields, "secret", path)),
            description=self.string(fields, "description", path),
        )

    def connection(self, node: Node, path: str) -> ConnectionSpec:
        fields = self.mapping(node, path, _CONNECTION_KEYS, required=("name", "integration"))
        integration = self.matching(fields, "integration", path, _INTEGRATION_RE, "an integration name")
        if integration and integrations.find(integration) is None:
            hint = suggestion(integration, integrations.known_names())
            message = (
                f"unknown integration {_quote(integration)}{hint} (known: {', '.join(integrations.known_names())})"
            )
            raise self.error(message, fields["integration"][1], _child(path, "integration"))
        return ConnectionSpec(
            name=self.matching(
                fields, "name", path, _VAR_NAME_RE, "letters, digits and underscores, not starting with a digit"
            ),
            integration=integration,
            vars=self.named_list(fields, "vars", path, self.var, "var"),
        )

    def trigger(self, node: Node, path: str, version: str, connections: set[str]) -> TriggerSpec:
        fields = self.mapping(node, path, _TRIGGER_KEYS, required=("name",))
        c = self.collect
        name = c(lambda: self.matching(fields, "name", path, _NAME_RE, "a name of letters, digits and underscores"), "")
        kind = c(lambda: self.trigger_type(node, fields, path), "")
        connection = c(lambda: self.trigger_connection(fields, path, kind, connections), "")
        is_sync = c(lambda: self.sync(fields, path, kind), None)
        is_durable = c(lambda: self.boolean(fields, "is_durable", path), None)
        return TriggerSpec(
            name=name,
            type=kind,
            call=c(lambda: self.call(fields, path), None),
            event_type=c(lambda: self.string(fields, "event_type", path), ""),
            filter=c(lambda: self.cel_filter(fields, path), ""),
            is_sync=bool(is_sync),
            is_durable=(version == "v1") if is_durable is None else is_durable,
            schedule=c(lambda: self.schedule(fields, path), ""),
            timezone=c(lambda: self.timezone(fields, path, kind), "") if kind else "",
            connection=connection,
            flow=c(lambda: self.flow(fields, path), FlowControl()),
        )

    # -- flow control (akd extension) -----------------------------------------------

    def flow(self, fields: Fields, path: str) -> FlowControl:
        parsed = {key: self.flow_fields(fields, key, path) for key in _FLOW_KEYS if key in fields}
        c = self.collect
        concurrency = c(lambda: self.concurrency(parsed.get("concurrency"), _child(path, "concurrency")), None)
        debounce = c(lambda: self.debounce(parsed.get("debounce"), _child(path, "debounce")), None)
        dedupe = c(lambda: self.dedupe(parsed.get("dedupe"), _child(path, "dedupe")), None)
        rate_limit = c(lambda: self.rate_limit(parsed.get("rate_limit"), _child(path, "rate_limit")), None)
        return FlowControl(concurrency, debounce, dedupe, rate_limit)

    def flow_fields(self, fields: Fields, key: str, path: str) -> Fields:
        allowed, required = _FLOW_KEYS[key]
        return self.collect(lambda: self.mapping(fields[key][1], _child(path, key), allowed, required), {})

    def concurrency(self, fields: Fields | None, path: str) -> Concurrency | None:
        if not fields or "limit" not in fields:
            return None
        limit = self.collect(lambda: self.positive_int(fields, "limit", path), 0)
        return Concurrency(limit=limit, key=self.cel_key(fields, path))

    def debounce(self, fields: Fields | None, path: str) -> Debounce | None:
        if not fields or "period" not in fields:
            return None
        period = self.collect(lambda: self.duration(fields, "period", path), 0.0)
        return Debounce(period=period, key=self.cel_key(fields, path))

    def dedupe(self, fields: Fields | None, path: str) -> Dedupe | None:
        if not fields or "for" not in fields or "key" not in fields:
            return None
        key = self.cel_key(fields, path)
        if not key:
            raise self.error("expected a CEL expression, got an empty string", fields["key"][1], _child(path, "key"))
        return Dedupe(key=key, window=self.duration(fields, "for", path))

    def rate_limit(self, fields: Fields | None, path: str) -> RateLimit | None:
        if not fields or "limit" not in fields or "period" not in fields:
            return None
        limit = self.collect(lambda: self.positive_int(fields, "limit", path), 0)
        period = self.collect(lambda: self.duration(fields, "period", path), 0.0)
        key = self.collect(lambda: self.cel_key(fields, path), "")
        return RateLimit(limit=limit, period=period, key=key)

    def positive_int(self, fields: Fields, key: str, path: str) -> int:
        node = fields[key][1]
        text = str(node.value) if isinstance(node, ScalarNode) and not _is_null(node) else ""
        if not re.fullmatch(r"[0-9]+", text) or int(text) < 1:
            raise self.error(f"expected a whole number >= 1, got {_kind(node)}", node, _child(path, key))
        return int(text)

    def duration(self, fields: Fields, key: str, path: str) -> float:
        node = fields[key][1]
        text = str(node.value).strip() if isinstance(node, ScalarNode) and not _is_null(node) else ""
        seconds = go_duration_seconds(text)
        if seconds is None or seconds <= 0:
            message = f"expected a positive duration like 30s, 5m or 1h30m, got {_kind(node)}"
            raise self.error(message, node, _child(path, key))
        return seconds

    def cel_key(self, fields: Fields, path: str) -> str:
        expression = self.string(fields, "key", path).strip()
        if expression:
            problem = _cel_problem(expression)
            if problem:
                raise self.error(f"invalid CEL key: {problem}", fields["key"][1], _child(path, "key"))
        return expression

    def trigger_connection(self, fields: Fields, path: str, kind: str, connections: set[str]) -> str:
        connection = self.string(fields, "connection", path, required=True)
        if kind == "connection" and connection not in connections:
            declared = _one_of(sorted(connections)) or "none"
            hint = suggestion(connection, connections)
            message = f"unknown connection {_quote(connection)}{hint} (declared: {declared})"
            raise self.error(message, fields["connection"][1], _child(path, "connection"))
        return connection

    def sync(self, fields: Fields, path: str, kind: str) -> bool | None:
        is_sync = self.boolean(fields, "is_sync", path)
        if is_sync and kind and kind != "webhook":
            raise self.error(
                f"is_sync only applies to webhook triggers, not {kind}", fields["is_sync"][1], _child(path, "is_sync")
            )
        return is_sync

    def trigger_type(self, node: Node, fields: Fields, path: str) -> str:
        implied = [key for key in ("schedule", "connection", "webhook") if key in fields]
        if len(implied) > 1:
            second = fields[implied[1]][0]
            raise self.error(f'"{implied[0]}" and "{implied[1]}" cannot both be set', second, _child(path, implied[1]))
        if "webhook" in fields:
            self.legacy_webhook(fields["webhook"][1], _child(path, "webhook"))
        declared = self.string(fields, "type", path, required=True)
        if not declared:
            if implied:
                return implied[0]
            message = f'missing "type" (expected one of: {_one_of(TRIGGER_TYPES)}, or a "schedule" or "connection" key)'
            raise self.error(message, node, _child(path, "type"))
        type_node = fields["type"][1]
        if declared not in TRIGGER_TYPES:
            hint = suggestion(declared, TRIGGER_TYPES)
            message = f"expected one of: {_one_of(TRIGGER_TYPES)}, got {_quote(declared)}{hint}"
            raise self.error(message, type_node, _child(path, "type"))
        if implied and implied[0] != declared:
            message = f'a {declared} trigger cannot have "{implied[0]}"'
            raise self.error(message, fields[implied[0]][0], _child(path, implied[0]))
        if declared in ("schedule", "connection") and not implied:
            raise self.error(f'a {declared} trigger needs a "{declared}" key', type_node, _child(path, "type"))
        return declared

    def legacy_webhook(self, node: Node, path: str) -> None:
        if _is_null(node) or (isinstance(node, MappingNode) and not node.value):
            return
        raise self.error(f"expected {{}} (an empty mapping), got {_kind(node)}", node, path)

    def call(self, fields: Fields, path: str) -> CallSpec | None:
        raw = self.string(fields, "call", path)
        if not raw:
            return None
        node, key = fields["call"][1], _child(path, "call")
        file, sep, function = raw.strip().rpartition(":")
        if not sep or not file.endswith(".py") or not function.isidentifier() or keyword.iskeyword(function):
            raise self.error(f'expected "file.py:function", got {_quote(raw)}', node, key)
        if file.startswith("/") or "\\" in file:
            raise self.error(f"expected a path relative to the project directory, got {_quote(file)}", node, key)
        parts = [part for part in file.split("/") if part not in ("", ".")]
        if ".." in parts:
            raise self.error(f"expected a path inside the project directory, got {_quote(file)}", node, key)
        return CallSpec(file="/".join(parts), function=function)

    def cel_filter(self, fields: Fields, path: str) -> str:
        expression = self.string(fields, "filter", path)
        if not expression.strip():
            return ""
        problem = _cel_problem(expression)
        if problem:
            raise self.error(f"invalid CEL filter: {problem}", fields["filter"][1], _child(path, "filter"))
        return expression

    def schedule(self, fields: Fields, path: str) -> str:
        if "schedule" not in fields:
            return ""
        expression = self.string(fields, "schedule", path, required=True).strip()
        problem = _schedule_problem(expression)
        if problem:
            raise self.error(problem, fields["schedule"][1], _child(path, "schedule"))
        return expression

    def timezone(self, fields: Fields, path: str, kind: str) -> str:
        name = self.string(fields, "timezone", path).strip()
        if not name:
            return ""
        node, key = fields["timezone"][1], _child(path, "timezone")
        if kind != "schedule":
            raise self.error(f"timezone only applies to schedule triggers, not {kind}", node, key)
        try:
            zoneinfo.ZoneInfo(name)
        except (zoneinfo.ZoneInfoNotFoundError, ValueError, OSError):
            raise self.error(
                f'expected an IANA time zone such as "Europe/Paris", got {_quote(name)}', node, key
            ) from None
        return name


def go_duration_seconds(text: str) -> float | None:
    """``1h30m``, ``5s``, ``250ms`` (Go's duration syntax, unsigned) in seconds; None if not one."""
    if not _GO_DURATION_RE.fullmatch(text):
        return None
    return sum(float(number) * _DURATION_UNITS[unit] for number, unit in _GO_DURATION_PART_RE.findall(text))


def _cel_problem(expression: str) -> str:
    """The CEL compiler's complaint about ``expression``, or "" when it compiles."""
    import cel  # deferred: the binding pulls in a CLI toolkit that akctl's start-up can skip

    try:
        cel.compile(expression)
    except ValueError as exc:  # how the CEL binding reports a syntax error
        return _cel_message(exc)
    return ""


def _cel_message(exc: Exception) -> str:
    # The binding's message repeats the expression and draws a caret on more lines;
    # the first line, minus that preamble, says what is wrong and where.
    first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    _, found, rest = first.partition("ERROR: ")
    return rest if found else first


def _schedule_problem(expression: str) -> str:
    """Why ``expression`` is not a Temporal schedule, or "" when it is one."""
    expected = 'expected a cron expression (5-7 fields), "@every <duration>" or a descriptor such as "@daily"'
    if not expression:
        return f"{expected}, got an empty string"
    if expression.startswith("@"):
        word, _, rest = expression.partition(" ")
        if word == "@every":
            return _every_problem(rest.strip())
        if word in _CRON_DESCRIPTORS and not rest.strip():
            return ""
        return f'{expected}, got "{expression}"'
    fields = expression.split()
    if not 5 <= len(fields) <= 7:
        return f'{expected}, got {len(fields)} field(s) in "{expression}"'
    for field in fields:
        if not _CRON_FIELD_RE.fullmatch(field) or _CRON_EXTENSION_RE.search(field):
            return f'invalid cron field "{field}" in "{expression}"'
    return _croniter_problem(expression) if len(fields) == 5 else ""


def _croniter_problem(expression: str) -> str:
    try:
        croniter(expression)
    except ValueError as exc:
        # croniter prefixes its reason with "[<expression>] "; the message has it already.
        reason = str(exc).removeprefix(f"[{expression}]").strip() or "not acceptable"
        return f'invalid cron expression "{expression}": {reason} (minute hour day-of-month month day-of-week)'
    return ""


def _every_problem(spec: str) -> str:
    # Temporal accepts "@every <interval>[/<offset>]", both as Go durations.
    interval, _, offset = spec.partition("/")
    for part in (interval, offset) if offset else (interval,):
        if not _GO_DURATION_RE.fullmatch(part):
            return f'expected "@every <duration>" with a duration like 30s, 5m or 1h30m, got "@every {spec}"'
    if not re.search(r"[1-9]", interval):
        return f'expected a positive interval, got "@every {spec}"'
    return ""
