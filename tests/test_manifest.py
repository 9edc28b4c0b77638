"""Tests of akd.manifest: the autokitteh.yaml schema, its errors and their locations."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from akd.build import snapshot_project
from akd.errors import BuildError, ManifestError
from akd.manifest import MAX_MANIFEST_BYTES, ManifestErrors, load_manifest, parse_manifest
from akd.models import (
    CallSpec,
    Concurrency,
    ConnectionSpec,
    Debounce,
    Dedupe,
    FlowControl,
    RateLimit,
    TriggerSpec,
    VarSpec,
)

DESIGN_EXAMPLE = """\
version: v1            # v1: triggers durable by default; v2: non-durable by default
project:
  name: hello          # ^\\w+$
  vars:
    - name: GREETING
      value: "hi"      # always delivered as a string
    - name: API_TOKEN
      value: "s3cret"
      secret: true
  connections: []      # name + integration (+ vars)
  triggers:
    - name: on_http
      type: webhook
      event_type: post          # lowercase HTTP method; absent = any
      filter: data.url.path.endsWith("/hooks")   # CEL over `data` and `event_type`
      call: program.py:on_http
      is_sync: false
    - name: every_minute
      schedule: "*/1 * * * *"   # Temporal cron: 5-7 fields, @every 5m, @daily, ...
      call: program.py:on_tick
    - name: replies             # no call: only for subscribe()
      type: webhook
"""


def manifest_with_trigger(*lines: str) -> str:
    """A v1 manifest whose only trigger (starting on line 5) has ``lines``."""
    head = "version: v1\nproject:\n  name: p\n  triggers:\n"
    body = "".join(("    - " if i == 0 else "      ") + line + "\n" for i, line in enumerate(lines))
    return head + body


def dedent(text: str) -> str:
    return textwrap.dedent(text).lstrip("\n")


BILLION_LAUGHS = dedent(
    """
    a: &a ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]
    b: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a]
    c: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b]
    d: &d [*c, *c, *c, *c, *c, *c, *c, *c, *c]
    e: [*d, *d, *d, *d, *d, *d, *d, *d, *d]
    """
)

# (id, manifest text, expected key path, expected line, expected message fragment)
MALFORMED: list[tuple[str, str, str, int, str]] = [
    ("empty file", "", "", 1, "manifest is empty"),
    ("comments only", "# nothing here\n", "", 1, "manifest is empty"),
    ("top level list", "- version: v1\n", "", 1, "got a list"),
    ("top level scalar", "hello\n", "", 1, 'got "hello"'),
    ("yaml syntax error", "version: v1\nproject: name: x\n", "", 2, "mapping values are not allowed"),
    ("yaml unclosed flow", "version: v1\nproject:\n  name: [x\n", "", 4, "invalid YAML"),
    ("yaml tab", "version: v1\nproject:\n  name: x\n\ttriggers: []\n", "", 4, "'\\t'"),
    ("yaml bad indentation", "version: v1\nproject:\n  name: x\n bad: 1\n", "", 4, "invalid YAML"),
    ("two documents", "version: v1\n---\nversion: v2\n", "", 2, "invalid YAML"),
    ("control character", "version: v1\nproject:\n  name: a\x00b\n", "", 3, "control characters"),
    ("alias", "version: &v v1\nproject:\n  name: *v\n", "", 3, "aliases are not allowed"),
    ("alias bomb", BILLION_LAUGHS, "", 2, "aliases are not allowed"),
    ("deep nesting", "a: " + "[" * 60 + "]" * 60 + "\n", "", 1, "deeper than 50"),
    ("missing version", "project:\n  name: x\n", "version", 1, 'missing required key "version"'),
    ("bad version", "version: v3\nproject:\n  name: x\n", "version", 1, 'expected "v1" or "v2", got "v3"'),
    ("numeric version", "version: 1\nproject:\n  name: x\n", "version", 1, 'got "1"'),
    ("null version", "version:\nproject:\n  name: x\n", "version", 1, "expected a string, got null"),
    ("missing project", "version: v1\n", "project", 1, 'missing required key "project"'),
    ("project not a mapping", "version: v1\nproject: hello\n", "project", 2, "expected a mapping"),
    ("unknown top-level key", "version: v1\nproject:\n  name: x\nproject2: {}\n", "project2", 4, "unknown key"),
    ("duplicate yaml key", "version: v1\nversion: v2\nproject:\n  name: x\n", "version", 2, "first at line 1"),
    ("missing project name", "version: v1\nproject:\n  vars: []\n", "project.name", 3, "missing required key"),
    ("bad project name", "version: v1\nproject:\n  name: my-project\n", "project.name", 3, 'got "my-project"'),
    ("unknown project key", "version: v1\nproject:\n  name: x\n  trigger: []\n", "project.trigger", 4, "unknown key"),
    (
        "unknown var key",
        "version: v1\nproject:\n  name: x\n  vars:\n    - name: A\n      valeu: 1\n",
        "project.vars[0].valeu",
        6,
        'unknown key "valeu"',
    ),
    (
        "var mapping value",
        "version: v1\nproject:\n  name: x\n  vars:\n    - name: A\n      value:\n        k: v\n",
        "project.vars[0].value",
        7,
        "got a mapping",
    ),
    (
        "var list value",
        "version: v1\nproject:\n  name: x\n  vars:\n    - name: A\n      value: [1, 2]\n",
        "project.vars[0].value",
        6,
        "got a list",
    ),
    (
        "bad var name",
        "version: v1\nproject:\n  name: x\n  vars:\n    - name: 1ABC\n",
        "project.vars[0].name",
        5,
        "variable name",
    ),
    (
        "secret not a boolean",
        "version: v1\nproject:\n  name: x\n  vars:\n    - name: A\n      secret: maybe\n",
        "project.vars[0].secret",
        6,
        "expected true or false",
    ),
    (
        "duplicate var names",
        "version: v1\nproject:\n  name: x\n  vars:\n    - name: A\n    - name: B\n    - name: A\n",
        "project.vars[2].name",
        7,
        'duplicate var name "A" (first at line 5)',
    ),
    (
        "duplicate connection names",
        dedent(
            """
            version: v1
            project:
              name: x
              connections:
                - name: gh
                  integration: github
                - name: gh
                  integration: slack
            """
        ),
        "project.connections[1].name",
        7,
        'duplicate connection name "gh"',
    ),
    (
        "connection without integration",
        "version: v1\nproject:\n  name: x\n  connections:\n    - name: gh\n",
        "project.connections[0].integration",
        5,
        "missing required key",
    ),
    (
        "connection var unknown key",
        dedent(
            """
            version: v1
            project:
              name: x
              connections:
                - name: gh
                  integration: github
                  vars:
                    - name: TOKEN
                      hidden: true
            """
        ),
        "project.connections[0].vars[0].hidden",
        9,
        "unknown key",
    ),
    (
        "triggers not a list",
        "version: v1\nproject:\n  name: x\n  triggers: {}\n",
        "project.triggers",
        4,
        "expected a list",
    ),
    ("missing trigger name", manifest_with_trigger("type: webhook"), "project.triggers[0].name", 5, "missing required"),
    (
        "bad trigger name",
        manifest_with_trigger("name: on-http", "type: webhook"),
        "project.triggers[0].name",
        5,
        "on-http",
    ),
    (
        "duplicate trigger names",
        manifest_with_trigger("name: t", "type: webhook") + "    - name: u\n      type: webhook\n"
        "    - name: t\n      schedule: '@daily'\n",
        "project.triggers[2].name",
        9,
        'duplicate trigger name "t" (first at line 5)',
    ),
    (
        "unknown trigger key",
        manifest_with_trigger("name: t", "type: webhook", "method: post"),
        "project.triggers[0].method",
        7,
        'unknown key "method"',
    ),
    (
        "unknown trigger type",
        manifest_with_trigger("name: t", "type: cron"),
        "project.triggers[0].type",
        6,
        'got "cron"',
    ),
    (
        "trigger without type",
        manifest_with_trigger("name: t", "call: a.py:f"),
        "project.triggers[0].type",
        5,
        "missing",
    ),
    (
        "schedule and connection",
        manifest_with_trigger("name: t", "schedule: '@daily'", "connection: gh"),
        "project.triggers[0].connection",
        7,
        "cannot both be set",
    ),
    (
        "webhook with schedule",
        manifest_with_trigger("name: t", "type: webhook", "schedule: '@daily'"),
        "project.triggers[0].schedule",
        7,
        'a webhook trigger cannot have "schedule"',
    ),
    (
        "schedule type without schedule",
        manifest_with_trigger("name: t", "type: schedule", "call: a.py:f"),
        "project.triggers[0].type",
        6,
        'needs a "schedule" key',
    ),
    (
        "is_sync on schedule",
        manifest_with_trigger("name: t", "schedule: '@daily'", "is_sync: true"),
        "project.triggers[0].is_sync",
        7,
        "only applies to webhook",
    ),
    (
        "is_durable not a boolean",
        manifest_with_trigger("name: t", "type: webhook", "is_durable: sometimes"),
        "project.triggers[0].is_durable",
        7,
        "expected true or false",
    ),
    (
        "call without function",
        manifest_with_trigger("name: t", "type: webhook", "call: program"),
        "project.triggers[0].call",
        7,
        'expected "file.py:function", got "program"',
    ),
    (
        "call not a python file",
        manifest_with_trigger("name: t", "type: webhook", "call: main.js:handler"),
        "project.triggers[0].call",
        7,
        'expected "file.py:function"',
    ),
    (
        "call function not an identifier",
        manifest_with_trigger("name: t", "type: webhook", "call: a.py:on-http"),
        "project.triggers[0].call",
        7,
        'expected "file.py:function"',
    ),
    (
        "call with dot dot",
        manifest_with_trigger("name: t", "type: webhook", "call: ../other/program.py:main"),
        "project.triggers[0].call",
        7,
        "inside the project",
    ),
    (
        "call with absolute path",
        manifest_with_trigger("name: t", "type: webhook", "call: /etc/program.py:main"),
        "project.triggers[0].call",
        7,
        "relative to the project",
    ),
    (
        "invalid CEL filter",
        manifest_with_trigger("name: t", "type: webhook", "filter: 'data.method =='"),
        "project.triggers[0].filter",
        7,
        "invalid CEL filter",
    ),
    (
        "cron minute out of range",
        manifest_with_trigger("name: t", "schedule: '61 * * * *'"),
        "project.triggers[0].schedule",
        6,
        "out of range",
    ),
    (
        "cron with too few fields",
        manifest_with_trigger("name: t", "schedule: '* * *'"),
        "project.triggers[0].schedule",
        6,
        "3 field(s)",
    ),
    (
        "cron with bad characters",
        manifest_with_trigger("name: t", "schedule: '* * * * * ! *'"),
        "project.triggers[0].schedule",
        6,
        'invalid cron field "!"',
    ),
    (
        "bad @every duration",
        manifest_with_trigger("name: t", "schedule: '@every 5 minutes'"),
        "project.triggers[0].schedule",
        6,
        "like 30s, 5m or 1h30m",
    ),
    (
        "unknown descriptor",
        manifest_with_trigger("name: t", "schedule: '@sometimes'"),
        "project.triggers[0].schedule",
        6,
        '"@daily"',
    ),
    (
        "bad timezone",
        manifest_with_trigger("name: t", "schedule: '@daily'", "timezone: Mars/Olympus_Mons"),
        "project.triggers[0].timezone",
        7,
        "IANA time zone",
    ),
    (
        "timezone on a webhook",
        manifest_with_trigger("name: t", "type: webhook", "timezone: UTC"),
        "project.triggers[0].timezone",
        7,
        "only applies to schedule",
    ),
    (
        "unknown connection",
        dedent(
            """
            version: v1
            project:
              name: x
              connections:
                - name: gh
                  integration: github
              triggers:
                - name: on_issue
                  connection: slack
            """
        ),
        "project.triggers[0].connection",
        9,
        'unknown connection "slack" (declared: "gh")',
    ),
    (
        "legacy webhook marker with content",
        manifest_with_trigger("name: t", "webhook: {path: /x}"),
        "project.triggers[0].webhook",
        6,
        "empty mapping",
    ),
    (
        "concurrency limit below one",
        manifest_with_trigger("name: t", "type: webhook", "concurrency:", "  limit: 0"),
        "project.triggers[0].concurrency.limit",
        8,
        'expected a whole number >= 1, got "0"',
    ),
    (
        "concurrency key that does not compile",
        manifest_with_trigger("name: t", "type: webhook", "concurrency:", "  limit: 2", "  key: 'data.user +'"),
        "project.triggers[0].concurrency.key",
        9,
        "invalid CEL key: <input>:1:12: Syntax error",
    ),
    (
        "debounce period not a duration",
        manifest_with_trigger("name: t", "type: webhook", "debounce: {period: 5 seconds}"),
        "project.triggers[0].debounce.period",
        7,
        'expected a positive duration like 30s, 5m or 1h30m, got "5 seconds"',
    ),
    (
        "debounce not a mapping",
        manifest_with_trigger("name: t", "type: webhook", "debounce: 5s"),
        "project.triggers[0].debounce",
        7,
        'expected a mapping, got "5s"',
    ),
    (
        "dedupe without a window",
        manifest_with_trigger("name: t", "type: webhook", "dedupe: {key: data.id}"),
        "project.triggers[0].dedupe.for",
        7,
        'missing required key "for"',
    ),
    (
        "dedupe key that does not compile",
        manifest_with_trigger("name: t", "type: webhook", "dedupe:", "  for: 1h", "  key: 'data.id ==='"),
        "project.triggers[0].dedupe.key",
        9,
        "invalid CEL key:",
    ),
    (
        "rate limit below one",
        manifest_with_trigger("name: t", "type: webhook", "rate_limit: {limit: -1, period: 1m}"),
        "project.triggers[0].rate_limit.limit",
        7,
        'expected a whole number >= 1, got "-1"',
    ),
    (
        "rate limit period of zero",
        manifest_with_trigger("name: t", "type: webhook", "rate_limit:", "  limit: 3", "  period: 0s"),
        "project.triggers[0].rate_limit.period",
        9,
        'expected a positive duration like 30s, 5m or 1h30m, got "0s"',
    ),
    (
        "misspelt flow-control key",
        manifest_with_trigger("name: t", "type: webhook", "debounce: {period: 5s, kee: data.id}"),
        "project.triggers[0].debounce.kee",
        7,
        'unknown key "kee" (did you mean "key"?)',
    ),
    (
        "misspelt flow-control rule",
        manifest_with_trigger("name: t", "type: webhook", "ratelimit: {limit: 1, period: 1m}"),
        "project.triggers[0].ratelimit",
        7,
        '(did you mean "rate_limit"?)',
    ),
]


@pytest.mark.parametrize(
    ("text", "key", "line", "fragment"),
    [pytest.param(*case[1:], id=case[0]) for case in MALFORMED],
)
def test_malformed_manifest_is_located(text: str, key: str, line: int, fragment: str) -> None:
    with pytest.raises(ManifestError) as info:
        parse_manifest(text)
    error = info.value
    assert error.key == key
    assert error.line == line
    assert error.file == "autokitteh.yaml"
    prefix = f"autokitteh.yaml:{line}: {key}: " if key else f"autokitteh.yaml:{line}: "
    assert str(error).startswith(prefix)
    assert fragment in str(error)
    assert error.details == {"file": "autokitteh.yaml", "line": line, "key": key}


def test_long_values_are_shortened_in_messages() -> None:
    with pytest.raises(ManifestError) as info:
        parse_manifest("version: v1\nproject:\n  name: " + "x-" * 500 + "\n")
    assert len(str(info.value)) < 200
    assert '..."' in str(info.value)


def test_malformed_cases_are_distinct() -> None:
    texts = [case[1] for case in MALFORMED]
    assert len(set(texts)) == len(texts) >= 25


def test_design_example_parses() -> None:
    manifest = parse_manifest(DESIGN_EXAMPLE)
    assert manifest.version == "v1"
    assert manifest.name == "hello"
    assert manifest.vars == (VarSpec("GREETING", "hi"), VarSpec("API_TOKEN", "s3cret", secret=True))
    assert manifest.connections == ()
    on_http, every_minute, replies = manifest.triggers
    assert on_http == TriggerSpec(
        name="on_http",
        type="webhook",
        call=CallSpec("program.py", "on_http"),
        event_type="post",
        filter='data.url.path.endsWith("/hooks")',
        is_sync=False,
        is_durable=True,
    )
    assert every_minute.type == "schedule"
    assert every_minute.schedule == "*/1 * * * *"
    assert str(every_minute.call) == "program.py:on_tick"
    assert replies.call is None
    assert replies.type == "webhook"


@pytest.mark.parametrize(("version", "default"), [("v1", True), ("v2", False)])
def test_is_durable_default_depends_on_version(version: str, default: bool) -> None:
    text = dedent(
        f"""
        version: {version}
        project:
          name: p
          triggers:
            - name: implicit
              type: webhook
            - name: durable
              type: webhook
              is_durable: true
            - name: plain
              type: webhook
              is_durable: false
        """
    )
    implicit, durable, plain = parse_manifest(text).triggers
    assert implicit.is_durable is default
    assert durable.is_durable is True
    assert plain.is_durable is False


def test_scalar_var_values_become_strings() -> None:
    text = dedent(
        """
        version: v2
        project:
          name: p
          vars:
            - {name: INT, value: 24}
            - {name: FALSE_, value: false}
            - {name: TRUE_, value: true}
            - {name: NULL_, value: null}
            - {name: EMPTY, value:}
            - {name: ABSENT}
            - {name: FLOAT, value: 1.5}
            - {name: QUOTED, value: "007"}
            - {name: TEXT, value: hello world, description: greeting}
        """
    )
    values = {v.name: v.value for v in parse_manifest(text).vars}
    assert values == {
        "INT": "24",
        "FALSE_": "false",
        "TRUE_": "true",
        "NULL_": "",
        "EMPTY": "",
        "ABSENT": "",
        "FLOAT": "1.5",
        "QUOTED": "007",
        "TEXT": "hello world",
    }
    assert parse_manifest(text).vars[-1].description == "greeting"


def test_trigger_type_is_implied_by_schedule_or_connection() -> None:
    text = dedent(
        """
        version: v1
        project:
          name: p
          display_name: My Project
          connections:
            - name: gh
              integration: github
              vars:
                - name: TOKEN
                  value: abc
                  secret: yes
          triggers:
            - name: tick
              schedule: "@every 1h30m"
              timezone: Europe/Paris
              call: ./jobs/tick.py:run
            - name: on_push
              connection: gh
              event_type: push
              filter: data.ref == "refs/heads/main"
              call: program.py:on_push
            - name: legacy
              webhook: {}
        """
    )
    manifest = parse_manifest(text)
    assert manifest.display_name == "My Project"
    assert manifest.connections == (ConnectionSpec("gh", "github", (VarSpec("TOKEN", "abc", secret=True),)),)
    tick, on_push, legacy = manifest.triggers
    assert (tick.type, tick.schedule, tick.timezone) == ("schedule", "@every 1h30m", "Europe/Paris")
    assert tick.call == CallSpec("jobs/tick.py", "run")
    assert (on_push.type, on_push.connection, on_push.event_type) == ("connection", "gh", "push")
    assert legacy.type == "webhook"


@pytest.mark.parametrize(
    "schedule",
    [
        "*/1 * * * *",
        "0 9 * * MON-FRI",
        "0 0 1,15 * *",
        "@every 30s",
        "@every 1.5h",
        "@every 1h/15m",
        "@daily",
        "@hourly",
        "@annually",
        "0 */5 * * * *",
        "0 0 12 * * ? 2030",
    ],
)
def test_valid_schedules(schedule: str) -> None:
    (trigger,) = parse_manifest(manifest_with_trigger("name: t", f"schedule: '{schedule}'")).triggers
    assert trigger.schedule == schedule


def test_sync_webhook() -> None:
    (trigger,) = parse_manifest(manifest_with_trigger("name: t", "type: webhook", "is_sync: true")).triggers
    assert trigger.is_sync is True


def test_load_manifest_reads_file_and_names_it(tmp_path: Path) -> None:
    path = tmp_path / "autokitteh.yaml"
    path.write_text(DESIGN_EXAMPLE)
    assert load_manifest(path).name == "hello"
    path.write_text("version: v1\nproject:\n  name: bad name\n")
    with pytest.raises(ManifestError) as info:
        load_manifest(path)
    assert str(info.value).startswith(f"{path}:3: project.name: ")


def test_load_manifest_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ManifestError, match="cannot read manifest"):
        load_manifest(tmp_path / "autokitteh.yaml")


def test_load_manifest_refuses_non_utf8(tmp_path: Path) -> None:
    path = tmp_path / "autokitteh.yaml"
    path.write_bytes(b"version: v1\nproject:\n  name: caf\xe9\n")
    with pytest.raises(ManifestError) as info:
        load_manifest(path)
    assert info.value.line == 3
    assert "UTF-8" in str(info.value)


def test_oversized_manifest_is_refused(tmp_path: Path) -> None:
    text = "version: v1\nproject:\n  name: p\n" + "# padding\n" * (MAX_MANIFEST_BYTES // 10 + 1)
    with pytest.raises(ManifestError, match="over the limit"):
        parse_manifest(text)
    path = tmp_path / "autokitteh.yaml"
    path.write_text(text)
    with pytest.raises(ManifestError, match="over the limit"):
        load_manifest(path)


def test_huge_alias_bomb_is_refused() -> None:
    # Expanded, this would be 10**30 nodes: the test would never end if aliases were followed.
    levels = ["a0: &a0 [" + ", ".join(['"lol"'] * 10) + "]"]
    levels += [f"a{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * 10) + "]" for i in range(1, 30)]
    with pytest.raises(ManifestError, match="aliases are not allowed") as info:
        parse_manifest("\n".join(levels) + "\n")
    assert info.value.line == 2


# -- every problem at once, with suggestions ---------------------------------------------

MANY_PROBLEMS = """\
version: v3
project:
  name: bad-name
  dispaly_name: x
  connections:
    - name: chat
      integration: slak
  triggers:
    - name: a
      type: webhok
      call: program.py
    - name: b
      tpye: webhook
      call: program.py:b
    - name: c
      type: connection
      connection: chta
"""


def test_every_problem_is_reported_at_once_in_document_order() -> None:
    with pytest.raises(ManifestErrors) as info:
        parse_manifest(MANY_PROBLEMS)
    found = [(e.line, e.key) for e in info.value.errors]
    assert found == [
        (1, "version"),
        (3, "project.name"),
        (4, "project.dispaly_name"),
        (7, "project.connections[0].integration"),
        (10, "project.triggers[0].type"),
        (11, "project.triggers[0].call"),
        (12, "project.triggers[1].type"),  # missing: located at the item
        (13, "project.triggers[1].tpye"),
        (17, "project.triggers[2].connection"),
    ]
    error = info.value
    assert isinstance(error, ManifestError) and (error.line, error.key) == (1, "version")
    lines = str(error).splitlines()
    assert len(lines) == len(found) and all(line.startswith("autokitteh.yaml:") for line in lines)
    assert [d["line"] for d in error.details["errors"]] == [line for line, _ in found]


@pytest.mark.parametrize(
    ("fragment", "suggested"),
    [
        ('unknown key "dispaly_name"', '(did you mean "display_name"?)'),
        ('unknown key "tpye"', '(did you mean "type"?)'),
        ('got "webhok"', '(did you mean "webhook"?)'),
        ('unknown integration "slak"', '(did you mean "slack"?)'),
        ('unknown connection "chta"', '(did you mean "chat"?)'),
    ],
)
def test_misspellings_come_with_a_suggestion(fragment: str, suggested: str) -> None:
    with pytest.raises(ManifestErrors) as info:
        parse_manifest(MANY_PROBLEMS)
    line = next(x for x in str(info.value).splitlines() if fragment in x)
    assert suggested in line, line


def test_no_suggestion_for_a_word_unlike_any_option() -> None:
    with pytest.raises(ManifestError) as info:
        parse_manifest("version: v1\nproject:\n  name: x\n  zzzzqqq: 1\n")
    assert "did you mean" not in str(info.value)


def test_a_misspelt_entrypoint_gets_a_suggestion(tmp_path: Path) -> None:
    (tmp_path / "autokitteh.yaml").write_text(
        manifest_with_trigger("name: t", "type: webhook", "call: program.py:on_webhok")
    )
    (tmp_path / "program.py").write_text("def on_webhook(event):\n    pass\n")
    with pytest.raises(BuildError) as info:
        snapshot_project(tmp_path, load_manifest(tmp_path / "autokitteh.yaml"))
    assert 'no top-level function "on_webhok" (did you mean "on_webhook"?)' in str(info.value)


def test_flow_control_keys() -> None:
    text = manifest_with_trigger(
        "name: t",
        "type: webhook",
        "call: a.py:f",
        "concurrency: {limit: 2, key: data.body.json.user}",
        "debounce: {period: 1m30s}",
        "dedupe: {key: 'data.body.json.id', for: 1h}",
        "rate_limit: {limit: 10, period: 250ms, key: event_type}",
    )
    flow = parse_manifest(text).triggers[0].flow
    assert flow == FlowControl(
        concurrency=Concurrency(limit=2, key="data.body.json.user"),
        debounce=Debounce(period=90.0, key=""),
        dedupe=Dedupe(key="data.body.json.id", window=3600.0),
        rate_limit=RateLimit(limit=10, period=0.25, key="event_type"),
    )
    assert not parse_manifest(manifest_with_trigger("name: t", "type: webhook")).triggers[0].flow


def test_flow_control_problems_are_reported_with_the_rest() -> None:
    text = manifest_with_trigger(
        "name: t", "type: cron", "concurrency: {limit: 0, key: 'a +'}", "rate_limit: {limit: 1, period: 1d}"
    )
    with pytest.raises(ManifestErrors) as info:
        parse_manifest(text)
    found = [(e.line, e.key) for e in info.value.errors]
    assert found == [
        (6, "project.triggers[0].type"),
        (7, "project.triggers[0].concurrency.limit"),
        (7, "project.triggers[0].concurrency.key"),
        (8, "project.triggers[0].rate_limit.period"),
    ]
