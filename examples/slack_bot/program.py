"""A Slack bot: answers mentions in their thread and remembers things for /remember.

Events arrive over Socket Mode (akd keeps the websocket open, stores each event, then
acknowledges it to Slack), in Slack's own shape: ``event.data`` is the inner event.
"""

import autokitteh
from autokitteh.slack import slack_client


def on_mention(event):
    mention = event.data
    words = mention.text.split(maxsplit=1)
    asked = words[1] if len(words) > 1 else ""
    notes = autokitteh.get_value(f"notes:{mention.user}") or []
    if asked.strip().lower() == "notes":
        reply = "You asked me to remember: " + ("; ".join(notes) if notes else "nothing yet")
    else:
        reply = f"Hi <@{mention.user}>! Mention me with `notes`, or use /remember <something>."
    slack_client("slack_conn").chat_postMessage(channel=mention.channel, thread_ts=mention.ts, text=reply)
    print(f"answered {mention.user} in {mention.channel}")


def on_remember(event):
    command = event.data
    note = command.text.strip()
    if not note:
        return
    key = f"notes:{command.user_id}"
    notes = [*(autokitteh.get_value(key) or []), note]
    autokitteh.set_value(key, notes)
    slack_client("slack_conn").chat_postMessage(channel=command.channel_id, text=f"Noted ({len(notes)} so far).")
    print(f"remembered a note for {command.user_id}")
