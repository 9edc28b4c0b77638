"""A durable project whose steps leave marks in a file: the side effects a failover or an
outage test counts, to tell a step that ran once from one that ran again.

Its webhook ``go`` starts ``run``, which takes from the JSON body ``steps`` (default 1),
``pause`` (seconds slept after each step, default 0) and ``sleep`` (slept after the first
step instead of ``pause``: a long one parks the session on a Temporal timer). Step ``i``
of session ``sid`` is the activity ``mark("<sid> <i>")``, appending that line to the
marks file (with `` <GREETING>`` when the project has the secret var), then
``print("after step <i>")``, then, when counting, ``ak.add_values(sid, 1)``: each one a
journaled call the tests can find in the store.
"""

from __future__ import annotations

from pathlib import Path

from tests.e2e.harness import write_project

_MANIFEST = """\
version: v2
project:
  name: {name}
{vars}  triggers:
    - name: go
      type: webhook
      call: program.py:run
      is_durable: true
"""

_SECRET_VAR = """\
  vars:
    - name: GREETING
      value: {greeting}
      secret: true
"""

_PROGRAM = """\
import os
import time
import autokitteh as ak

MARKS = {marks!r}
GREETING = {greeting!r}
COUNT = {count!r}

@ak.activity
def mark(what):
    with open(MARKS, "a") as f:
        f.write(what + "\\n")
    return what

def run(event, session_id):
    body = event.data.body.json or dict()
    for i in range(int(body.get("steps", 1))):
        mark(f"{{session_id}} {{i}}" + (f" {{os.environ['GREETING']}}" if GREETING else ""))
        print(f"after step {{i}}")
        if COUNT:
            ak.add_values(session_id, 1)
        pause = float(body.get("pause", 0))
        time.sleep(float(body.get("sleep", pause)) if i == 0 else pause)
"""


def marking_project(root: Path, name: str, marks: Path, *, greeting: str = "", count: bool = False) -> Path:
    """The project ``name`` in ``root``, marking in ``marks``; ``greeting`` makes the secret
    var GREETING (a node must decrypt it to run a step), ``count`` the KV counter per step."""
    extra = _SECRET_VAR.format(greeting=greeting) if greeting else ""
    files = {
        "autokitteh.yaml": _MANIFEST.format(name=name, vars=extra),
        "program.py": _PROGRAM.format(marks=str(marks), greeting=bool(greeting), count=count),
    }
    return write_project(root, files)


def read_marks(path: Path) -> list[str]:
    """The marks written so far, in order (none before the first step)."""
    return path.read_text().splitlines() if path.exists() else []
