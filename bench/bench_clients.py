"""Client factory cost: ``slack_client(...)`` (a WebClient and AutoKitteh's ``auth.test``
check) in a session, against a bare ``slack_sdk.WebClient(...).auth_test()`` in a plain
Python process; and, for information, the factory followed by one ``chat_postMessage``
(a journaled step in a durable session) against the bare client doing the same.

Both talk to the same local Slack stand-in (tests.standins.slack, in this process). Each
of 3 rounds runs a non-durable (v2) session, a durable (v1) session and the plain
process, in that order; each alternates the two kinds of iteration (factory alone,
factory + post) 40 times after 5 warm-up pairs and prints its times (perf_counter,
inside the process, so session start-up is not counted).
"""

from __future__ import annotations

import json
import subprocess
import sys
import time

from common import (
    Akd,
    BenchResult,
    Figure,
    deploy_files,
    finish,
    fresh_akd,
    median,
    ms,
    p95,
    run_bench,
    wait_for,
)

from tests.standins.slack import SlackStandIn

ROUNDS = 3
ITERATIONS = 200
WARMUP = 20
SETTLE = 0.5  # seconds of warm-up calls at the start of each session
TOKEN = "xoxb-bench"
TARGET = {"<= 1.2x bare slack_sdk": 1.2}

SESSION = f"""\
import json, time
import autokitteh
from autokitteh.slack import slack_client

# The timer itself runs directly: in a durable session it would otherwise be a journaled
# step, and its own journaling would be counted in every interval.
autokitteh.register_no_activity(time.perf_counter)

def run(event):
    # Warm up for half a second: the session's own start (and the runner akd readies for
    # the next session meanwhile) must not be counted in the first timed iterations.
    t0 = time.perf_counter()
    while time.perf_counter() - t0 < {SETTLE}:
        slack_client("slack_conn")
    only = []
    for i in range({ITERATIONS + WARMUP}):
        t0 = time.perf_counter()
        slack_client("slack_conn")
        only.append(time.perf_counter() - t0)
    alone, post = [], []
    for i in range({ITERATIONS + WARMUP}):
        t0 = time.perf_counter()
        slack_client("slack_conn")
        t1 = time.perf_counter()
        slack_client("slack_conn").chat_postMessage(channel="C1", text="bench")
        t2 = time.perf_counter()
        alone.append(t1 - t0)
        post.append(t2 - t1)
    print(json.dumps([only[{WARMUP}:], alone[{WARMUP}:], post[{WARMUP}:]]))
"""

PLAIN = f"""\
import json, sys, time
from slack_sdk import WebClient

base, token = sys.argv[1], sys.argv[2]
alone, post = [], []
for i in range({ITERATIONS + WARMUP}):
    t0 = time.perf_counter()
    WebClient(token, base_url=base).auth_test().validate()
    t1 = time.perf_counter()
    client = WebClient(token, base_url=base)
    client.auth_test().validate()
    client.chat_postMessage(channel="C1", text="bench")
    t2 = time.perf_counter()
    alone.append(t1 - t0)
    post.append(t2 - t1)
print(json.dumps([alone[{WARMUP}:], post[{WARMUP}:]]))
"""


def _manifest(name: str, version: str, base_url: str) -> str:
    return (
        f"version: {version}\nproject:\n  name: {name}\n  connections:\n    - name: slack_conn\n"
        f"      integration: slack\n      vars:\n        - name: private_bot_token\n          value: {TOKEN}\n"
        f"        - name: base_url\n          value: {base_url}\n"
        "  triggers:\n    - name: go\n      type: webhook\n      call: program.py:run\n"
    )


def _session_times(akd: Akd, url: str) -> tuple[list[float], list[float], list[float]]:
    import httpx

    event = httpx.post(url, timeout=10).headers["AutoKitteh-Event-ID"]
    sid = wait_for(lambda: akd.api("GET", f"/events/{event}").json().get("session_ids"), 60)[0]
    done = akd.wait_session(sid, timeout=120)
    if done["state"] != "completed":
        raise RuntimeError(f"session {sid} ended {done['state']}: {done.get('error')}")
    only, alone, post = json.loads(akd.prints(sid)[-1])
    return only, alone, post


def _plain_times(base_url: str) -> tuple[list[float], list[float]]:
    out = subprocess.run([sys.executable, "-c", PLAIN, base_url, TOKEN],
                         capture_output=True, text=True, timeout=120, check=True)  # fmt: skip
    alone, post = json.loads(out.stdout)
    return alone, post


def _figure(name: str, values: list[float], raw: list[float], raw_name: str, limits: dict[str, float]) -> Figure:
    return Figure(name, ms(median(values)), "ms", f"p95 {ms(p95(values)):.2f} ms", ms(median(raw)), raw_name,
                  limits, target_on="ratio")  # fmt: skip


def body(result: BenchResult) -> None:
    kinds = ("v2", "v1", "plain")
    only: dict[str, list[float]] = {k: [] for k in kinds}
    alone: dict[str, list[float]] = {k: [] for k in kinds}
    post: dict[str, list[float]] = {k: [] for k in kinds}
    with SlackStandIn(tokens={TOKEN}) as slack, fresh_akd() as akd:
        hooks: dict[str, str] = {}
        for version in ("v2", "v1"):
            files = {"autokitteh.yaml": _manifest(f"bench_clients_{version}", version, slack.base_url),
                     "program.py": SESSION}  # fmt: skip
            hooks[version] = deploy_files(akd, files)["go"]
        for r in range(ROUNDS):
            for version in ("v2", "v1") if r % 2 else ("v1", "v2"):  # neither always runs first
                o, a, p = _session_times(akd, hooks[version])
                only[version] += o
                alone[version] += a
                post[version] += p
            a, p = _plain_times(slack.base_url)
            alone["plain"] += a
            post["plain"] += p
            time.sleep(0.2)
        posted = len(slack.messages)
    bare, bare_post = "bare WebClient + auth_test", "bare WebClient + auth_test + post"
    result.figures += [
        _figure("non-durable (v2): slack_client, median", only["v2"], alone["plain"], bare, TARGET),
        _figure("durable (v1): slack_client, median", only["v1"], alone["plain"], bare, TARGET),
        _figure("non-durable (v2): slack_client after a post, median", alone["v2"], alone["plain"], bare, {}),
        _figure("durable (v1): slack_client after a journaled post, median", alone["v1"], alone["plain"], bare, {}),
        _figure("non-durable (v2): slack_client + chat_postMessage, median", post["v2"], post["plain"], bare_post, {}),
        _figure("durable (v1): slack_client + journaled chat_postMessage, median", post["v1"], post["plain"],
                bare_post, {}),
    ]  # fmt: skip
    result.details += [
        f"- Per-iteration medians (ms): factory alone v2 {ms(median(alone['v2'])):.2f}, v1 "
        f"{ms(median(alone['v1'])):.2f}, bare {ms(median(alone['plain'])):.2f}; factory + post v2 "
        f"{ms(median(post['v2'])):.2f}, v1 {ms(median(post['v1'])):.2f}, bare {ms(median(post['plain'])):.2f}; "
        f"{posted} messages reached the stand-in.",
        "- slack_client does what AutoKitteh's does: a WebClient and an auth.test request, run directly (not "
        "journaled) in both kinds of session; the like-for-like baseline is the bare client doing both in a "
        "plain process. In a durable session chat_postMessage is a journaled step: its response is recorded by "
        "akd before the code goes on (in the compact form of akd.runner.compact: no token in the journal), which "
        "is the cost of durability, shown in the last row.",
    ]


def main() -> int:
    runs = f"{ROUNDS} rounds x {ITERATIONS} timed iteration pairs (after {WARMUP} warm-up) per kind, one akd"
    title = "Client factory: slack_client (with auth.test), and with chat_postMessage"
    return finish(run_bench("bench_clients", title, runs, body))


if __name__ == "__main__":
    sys.exit(main())
