"""Check a URL on a schedule; keep the last report and a run counter in the store."""

import os
import time
import urllib.error
import urllib.request

import autokitteh


def check(url: str) -> dict:
    started = time.monotonic()
    try:
        with urllib.request.urlopen(url, timeout=10) as resp:
            status = resp.status
    except urllib.error.HTTPError as err:
        status = err.code
    except OSError as err:
        return {"url": url, "ok": False, "error": str(err)}
    return {"url": url, "ok": 200 <= status < 300, "status": status, "ms": round((time.monotonic() - started) * 1000)}


def report(event):
    result = check(os.environ["CHECK_URL"])
    result["at"] = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    runs = autokitteh.add_values("runs", 1)
    autokitteh.set_value("last_report", result)
    if not result["ok"]:
        autokitteh.add_values("failures", 1)
    print(f"run {runs}: {result}")
    return result
