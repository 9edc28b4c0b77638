"""Fetch every page of a paged API, wait, then report the total.

Each page is one journaled step (``@activity``): once it has succeeded it is never
fetched again, even if akd is killed and the session replays. A failing page is retried
with backoff; ``time.sleep`` is a durable timer that holds no process.
"""

import json
import os
import time
import urllib.request

import autokitteh
from autokitteh import RetryPolicy


@autokitteh.activity(retry=RetryPolicy(maximum_attempts=5, initial_interval=0.5, backoff_coefficient=2))
def fetch(url: str) -> dict:
    with urllib.request.urlopen(url, timeout=10) as resp:
        return json.load(resp)


def on_start(event):
    source = os.environ["SOURCE_URL"]
    items, page = [], 1
    while page:
        got = fetch(f"{source}?page={page}")
        items += got["items"]
        print(f"page {page}: {len(items)} items so far")
        page = got.get("next")
    pause = int(os.environ["PAUSE_SECONDS"])
    print(f"waiting {pause} s before the report (a durable timer)")
    time.sleep(pause)
    total = sum(item["amount"] for item in items)
    print(f"{len(items)} orders, total {total}")
    return {"orders": len(items), "total": total}
