"""Client factory cost: ``slack_client(...)`` (a WebClient and AutoKitteh's ``auth.test``
check) against the same work done by hand with a bare ``slack_sdk.WebClient`` in the same
session, iteration by iteration; and, for context, against a bare client in a plain
Python process, and the factory followed by one ``chat_postMessage`` (a journaled step in
a durable session).

Everything talks to the same local Slack stand-in (tests.standins.slack, in this
process). Each of 3 rounds runs a non-durable (v2) session, a durable (v1) session (which
goes first alternates) and the plain process. In a session, after half a second of
warm-up calls, each iteration times the factory and the bare client back to back (their
order alternates) and then the factory with a post; the bare client runs in an
``@inhibit_activities`` function, so it is direct (not journaled) in both kinds of
session, like the factory. Times are perf_counter deltas inside the process.
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

SESSION = f"""\\
import json, os, time
import autokitteh
from slack_sdk import WebClient
from autokitteh.slack import slack_client

# The timer runs directly: in a durable session it would otherwise be a journaled step.
autokitteh.register_no_activity(time.perf_counter)


@autokitteh.inhibit_activities
def bare(connection):
    # What slack_client does, by hand with the vendor's client; direct in both kinds of session.
    client = WebClient(os.environ[connection + "__private_bot_token"], base_url=os.environ[connection + "__base_url"])
    client.auth_test().validate()
    return client


def run(event):
    t0 = time.perf_counter()
    while time.perf_counter() - t0 < {SETTLE}:
        slack_client("slack_conn")
        bare("slack_conn")
    factory, by_hand, post = [], [], []
    pair = [(slack_client, factory), (bare, by_hand)]
    for i in range({ITERATIONS + WARMUP}):
        for fn, times in pair if i % 2 else pair[::-1]:
            t0 = time.perf_counter()
            fn("slack_conn")
            times.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        slack_client("slack_conn").chat_postMessage(channel="C1", text="bench")
        post.append(time.perf_counter() - t0)
    print(json.dumps([factory[{WARMUP}:], by_hand[{WARMUP}:], post[{WARMUP}:]]))
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
    factory, by_hand, post = json.loads(akd.prints(sid)[-1])
    return factory, by_hand, post


def _plain_times(base_url: str) -> tuple[list[float], list[float]]:
    out = subprocess.run([sys.executable, "-c", PLAIN, base_url, TOKEN],
                         capture_output=True, text=True, timeout=120, check=True)  # fmt: skip
    alone, post = json.loads(out.stdout)
    return alone, post


def _figure(name: str, values: list[float], raw: list[float], raw_name: str, limits: dict[str, float]) -> Figure:
    return Figure(name, ms(median(values)), "ms", f"p95 {ms(p95(values)):.2f} ms", ms(median(raw)), raw_name,
                  limits, target_on="ratio")  # fmt: skip


def body(result: BenchResult) -> None:
    kinds = ("v2", "v1")
    factory: dict[str, list[float]] = {k: [] for k in kinds}
    by_hand: dict[str, list[float]] = {k: [] for k in kinds}
    post: dict[str, list[float]] = {k: [] for k in kinds}
    plain_alone: list[float] = []
    plain_post: list[float] = []
    with SlackStandIn(tokens={TOKEN}) as slack, fresh_akd() as akd:
        hooks: dict[str, str] = {}
        for version in kinds:
            files = {"autokitteh.yaml": _manifest(f"bench_clients_{version}", version, slack.base_url),
                     "program.py": SESSION}  # fmt: skip
            hooks[version] = deploy_files(akd, files)["go"]
        for r in range(ROUNDS):
            for version in kinds if r % 2 else kinds[::-1]:  # neither kind always runs first
                f, b, p = _session_times(akd, hooks[version])
                factory[version] += f
                by_hand[version] += b
                post[version] += p
            a, p = _plain_times(slack.base_url)
            plain_alone += a
            plain_post += p
            time.sleep(0.2)
        posted = len(slack.messages)
    same = "the same work by hand with a bare WebClient, same session"
    result.figures += [
        _figure("non-durable (v2): slack_client, median", factory["v2"], by_hand["v2"], same, TARGET),
        _figure("durable (v1): slack_client, median", factory["v1"], by_hand["v1"], same, TARGET),
        _figure("non-durable (v2): slack_client, median", factory["v2"], plain_alone,
                "bare WebClient + auth_test, plain process", {}),
        _figure("durable (v1): slack_client, median", factory["v1"], plain_alone,
                "bare WebClient + auth_test, plain process", {}),
        _figure("non-durable (v2): slack_client + chat_postMessage, median", post["v2"], plain_post,
                "bare WebClient + auth_test + post, plain process", {}),
        _figure("durable (v1): slack_client + journaled chat_postMessage, median", post["v1"], plain_post,
                "bare WebClient + auth_test + post, plain process", {}),
    ]  # fmt: skip
    result.details += [
        f"- Per-iteration medians (ms): slack_client v2 {ms(median(factory['v2'])):.2f}, v1 "
        f"{ms(median(factory['v1'])):.2f}; by hand in the same sessions v2 {ms(median(by_hand['v2'])):.2f}, v1 "
        f"{ms(median(by_hand['v1'])):.2f}; plain process {ms(median(plain_alone)):.2f}. With a post: v2 "
        f"{ms(median(post['v2'])):.2f}, v1 {ms(median(post['v1'])):.2f}, plain {ms(median(plain_post)):.2f}; "
        f"{posted} messages reached the stand-in.",
        "- slack_client does what AutoKitteh's does (a WebClient and an auth.test request) and runs directly, not "
        "journaled, in both kinds of session. The target compares it with the same calls made by hand in the same "
        "session, iteration by iteration, so the machine's state is the same for both; the plain-process rows "
        "add what running inside a session costs (a runner next to akd and Temporal on 2 cores). In a durable "
        "session chat_postMessage is a journaled step, recorded by akd before the code goes on (in its compact "
        "form: no token in the journal): the cost of durability, in the last row.",
    ]


def main() -> int:
    runs = f"{ROUNDS} rounds x {ITERATIONS} timed iterations (after {WARMUP} warm-up) per kind, one akd"
    title = "Client factory: slack_client (with auth.test), and with chat_postMessage"
    return finish(run_bench("bench_clients", title, runs, body))


if __name__ == "__main__":
    sys.exit(main())
