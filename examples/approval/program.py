"""Wait for a decision on a request: approved, rejected, or nobody answered in time.

The waiting session holds no process: it can wait for days and survives restarts.
"""

import json
import os
from datetime import timedelta

import autokitteh


def on_request(event, session_id):
    request = event.data.body.json or {}
    # Only decisions about this request wake this session.
    sub = autokitteh.subscribe("decision", filter=f'data.body.json.request == "{session_id}"')
    print(f"request {session_id}: {request.get('item')} for {request.get('amount')}")
    body = json.dumps({"request": session_id, "approved": True, "by": "you"})
    print(f"decide with: curl -X POST {autokitteh.get_webhook_url('decision')} -d '{body}'")
    decision = autokitteh.next_event(sub, timeout=timedelta(seconds=int(os.environ["APPROVAL_TIMEOUT"])))
    if decision is None:
        print("nobody decided in time: the request expires")
        return {"request": session_id, "outcome": "expired"}
    answer = decision.body.json or {}
    outcome = "approved" if answer.get("approved") is True else "rejected"
    print(f"{outcome} by {answer.get('by', 'someone')}")
    return {"request": session_id, "outcome": outcome, "by": answer.get("by")}
