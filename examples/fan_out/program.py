"""Fan out to child sessions, then fan in their results.

Each child is a session of its own (its own log, retries and state); the parent waits
for the signal each child's end sends, named after the child's session id.
"""

import autokitteh


def parent(event):
    items = (event.data.body.json or {}).get("items") or ["alpha", "beta", "gamma"]
    children = {autokitteh.start("program.py:child", data={"item": item}): item for item in items}
    print(f"started {len(children)} children")
    results = {}
    for child_id, item in children.items():
        end = autokitteh.next_signal(child_id)
        outcome = end.payload if end else {}
        results[item] = outcome["value"] if outcome.get("completed") else f"failed: akctl session get {child_id}"
        print(f"{item}: {results[item]}")
    return results


def child(event):
    item = event.data["item"]
    if not isinstance(item, str):
        raise TypeError(f"expected a string item, got {item!r}")
    return {"item": item, "length": len(item), "upper": item.upper()}
