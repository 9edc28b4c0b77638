"""Signed vendor deliveries next to plain webhooks, on the same daemon in the same run.

A project with a GitHub connection (``pat_secret`` set, a trigger on ``push``) and a
project with a plain webhook trigger, both running the same non-durable handler that
only prints. Every request goes over one keep-alive connection of the bench's minimal
HTTP client (``common.RawHttp``); the GitHub delivery is signed (``X-Hub-Signature-256``
over the same body the webhook gets) before its clock starts, with a new
``X-GitHub-Delivery`` each time, so akd verifies, stores and dispatches every one.

1. Delivery to session completed: 50 rounds (after 3 warm-up rounds) of one of each, in
   shuffled order (fixed seed): the POST, then ``events/{id}?wait=final``.
2. Delivery to 2xx: 400 of each (after 20 warm-ups), sequential (closed loop), in
   shuffled pairs; p50 and p99. Each starts a session, which runs in the background,
   alike for both kinds.
Targets (issue 14): both <= 1.2x the plain webhook.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import random
import sys
import time
from dataclasses import dataclass, field

import httpx
from common import (
    Akd,
    AkdApi,
    BenchResult,
    Figure,
    LeanClient,
    RawHttp,
    akd_api,
    deploy_files,
    finish,
    fresh_akd,
    manifest,
    median,
    ms,
    p95,
    percentile,
    run_bench,
)

ROUNDS, WARMUP = 50, 3
REQUESTS, WARMUP_REQUESTS = 400, 20
SEED = 14
SECRET = "bench webhook secret"
HANDLER = "def run(event):\n    print('hello from the bench')\n"
TARGETS = {"<= 1.2x plain webhook (issue 14)": 1.2}
GITHUB_MANIFEST = """\
version: v2
project:
  name: bench_deliveries_gh
  connections:
    - name: gh
      integration: github
  triggers:
    - name: on_push
      connection: gh
      event_type: push
      call: program.py:run
"""
# A push payload's usual fields (trimmed): both kinds get these same bytes.
BODY = json.dumps(
    {
        "ref": "refs/heads/main",
        "before": "6113728f27ae82c7b1a177c8d03f9e96e0adf246",
        "after": "0000000000000000000000000000000000000000",
        "repository": {"id": 186853002, "name": "hello", "full_name": "octo/hello", "private": False},
        "pusher": {"name": "octocat", "email": "octocat@example.invalid"},
        "sender": {"login": "octocat", "id": 21031067, "type": "User"},
        "commits": [{"id": "6113728f", "message": "Update README.md", "author": {"name": "octocat"}}],
    }
).encode()


@dataclass
class Samples:
    completed: dict[str, list[float]] = field(default_factory=lambda: {"github": [], "plain": []})
    answered: dict[str, list[float]] = field(default_factory=lambda: {"github": [], "plain": []})


class Sender:
    """The two kinds of request, on one keep-alive connection."""

    def __init__(self, akd: Akd, plain_url: str, github_url: str) -> None:
        base = httpx.URL(akd.url)
        self.conn = RawHttp(base.host, base.port or 80)
        self.plain_path = httpx.URL(plain_url).raw_path.decode()
        self.github_path = httpx.URL(github_url).raw_path.decode()
        self.signature = "sha256=" + hmac.new(SECRET.encode(), BODY, hashlib.sha256).hexdigest()
        self.deliveries = 0

    async def post(self, kind: str) -> tuple[float, str]:
        """Seconds to the 2xx, and the event id."""
        if kind == "plain":
            path, headers = self.plain_path, {"Content-Type": "application/json"}
        else:
            self.deliveries += 1
            path = self.github_path
            headers = {"Content-Type": "application/json", "X-GitHub-Event": "push",
                       "X-GitHub-Delivery": f"bench-{self.deliveries}",
                       "X-Hub-Signature-256": self.signature}  # fmt: skip
        t0 = time.perf_counter()
        status, answer, body = await self.conn.request("POST", path, BODY, headers)
        elapsed = time.perf_counter() - t0
        if status != 202 or b'"duplicate":true' in body.replace(b" ", b""):
            raise RuntimeError(f"{kind} POST answered {status}: {body[:200]!r}")
        return elapsed, answer["autokitteh-event-id"]


def deploy(akd: Akd) -> tuple[str, str]:
    """Both projects; the plain webhook's URL and the connection's (``akctl connection get``)."""
    plain = deploy_files(akd, {"autokitteh.yaml": manifest("bench_deliveries_plain"), "program.py": HANDLER})["go"]
    deploy_files(akd, {"autokitteh.yaml": GITHUB_MANIFEST, "program.py": HANDLER})
    res = akd.akctl("var", "set", "pat_secret", SECRET, "--secret", "--connection", "bench_deliveries_gh/gh")
    if res.returncode != 0:
        raise RuntimeError(f"akctl var set pat_secret: {res.stderr}")
    github: str = akd.akctl_json("connection", "get", "bench_deliveries_gh/gh")["webhook_url"]
    return plain, github


async def to_completed(api: AkdApi, sender: Sender, lean: LeanClient, acc: Samples, rng: random.Random) -> None:
    for rnd in range(WARMUP + ROUNDS):
        for kind in rng.sample(["github", "plain"], 2):
            t0 = time.perf_counter()
            _, event_id = await sender.post(kind)
            session_ids = await lean.wait_event(event_id)
            elapsed = time.perf_counter() - t0
            session = await api.session(session_ids[0])
            if session["state"] != "completed":
                raise RuntimeError(f"{kind} session {session_ids[0]} ended {session['state']}")
            if rnd >= WARMUP:
                acc.completed[kind].append(elapsed)


async def to_answered(sender: Sender, acc: Samples, rng: random.Random) -> None:
    for n in range(WARMUP_REQUESTS + REQUESTS):
        for kind in rng.sample(["github", "plain"], 2):
            elapsed, _ = await sender.post(kind)
            if n >= WARMUP_REQUESTS:
                acc.answered[kind].append(elapsed)


def figure(name: str, github: float, plain: float, spread: str) -> Figure:
    return Figure(name=name, value=ms(github), unit="ms", spread=spread, raw=ms(plain),
                  raw_name="plain webhook, same daemon", limits=TARGETS, target_on="ratio")  # fmt: skip


async def measure(akd: Akd, result: BenchResult) -> None:
    plain_url, github_url = deploy(akd)
    acc = Samples()
    rng = random.Random(SEED)
    async with akd_api(akd) as api:
        sender, lean = Sender(akd, plain_url, github_url), LeanClient(api)
        try:
            await to_completed(api, sender, lean, acc, rng)
            await to_answered(sender, acc, rng)
        finally:
            sender.conn.close()
            lean.close()
    done, answered = acc.completed, acc.answered
    result.figures += [
        figure("signed GitHub delivery: POST to session completed, median", median(done["github"]),
               median(done["plain"]), f"p95 {ms(p95(done['github'])):.1f} ms"),
        figure("signed GitHub delivery: POST to 2xx, p50", median(answered["github"]), median(answered["plain"]),
               f"{len(answered['github'])} requests"),
        figure("signed GitHub delivery: POST to 2xx, p99", percentile(answered["github"], 99),
               percentile(answered["plain"], 99), f"{len(answered['github'])} requests"),
    ]  # fmt: skip
    result.details += [
        f"- POST to session completed (ms): GitHub median {ms(median(done['github'])):.1f}, "
        f"p95 {ms(p95(done['github'])):.1f}; plain webhook median {ms(median(done['plain'])):.1f}, "
        f"p95 {ms(p95(done['plain'])):.1f}.",
        f"- POST to 2xx (ms): GitHub p50 {ms(median(answered['github'])):.2f}, p99 "
        f"{ms(percentile(answered['github'], 99)):.2f}, max {ms(max(answered['github'])):.2f}; plain webhook p50 "
        f"{ms(median(answered['plain'])):.2f}, p99 {ms(percentile(answered['plain'], 99)):.2f}, max "
        f"{ms(max(answered['plain'])):.2f}; every GitHub delivery had its own X-GitHub-Delivery "
        f"({sender.deliveries} in all, none answered as a duplicate).",
    ]


def body(result: BenchResult) -> None:
    with fresh_akd() as akd:
        asyncio.run(measure(akd, result))


def main() -> int:
    runs = (
        f"{ROUNDS} rounds to session completed (after {WARMUP} warm-up), then {REQUESTS} POSTs of each kind to 2xx "
        f"(after {WARMUP_REQUESTS} warm-up), interleaved in shuffled pairs, sequential, one akd"
    )
    return finish(run_bench("bench_deliveries", "Signed deliveries vs plain webhooks", runs, body))


if __name__ == "__main__":
    sys.exit(main())
