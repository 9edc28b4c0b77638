"""Say hello to whoever posts to the webhook.

Try it:  curl -X POST <webhook url> -d '{"name": "Ada"}'
"""

import os


def on_webhook(event):
    body = event.data.body.json or {}
    name = body.get("name", "world") if isinstance(body, dict) else "world"
    greeting = os.environ.get("GREETING", "Hello")
    print(f"{greeting}, {name}!")
    print(f"{event.data.method} {event.data.url.path} ({len(event.data.body.bytes or b'')} bytes)")
    return {"greeted": name}
