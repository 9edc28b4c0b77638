"""GitHub issues and comments, announced in Slack.

The deliveries arrive verified (X-Hub-Signature-256, checked by akd with the
connection's secret before anything is stored) and in GitHub's own shape: ``event.data``
is the webhook payload.
"""

import os

from autokitteh.slack import slack_client


def _post(text: str) -> str:
    response = slack_client("slack_conn").chat_postMessage(channel=os.environ["SLACK_CHANNEL"], text=text)
    return response["ts"]


def on_issue(event):
    issue, repo = event.data.issue, event.data.repository
    ts = _post(f"New issue in {repo.full_name} by {issue.user.login}: <{issue.html_url}|#{issue.number} {issue.title}>")
    print(f"announced issue #{issue.number} (message {ts})")


def on_comment(event):
    issue, comment = event.data.issue, event.data.comment
    first_line = (comment.body or "").splitlines()[0] if comment.body else ""
    ts = _post(f"{comment.user.login} on #{issue.number} {issue.title}: {first_line}")
    print(f"announced a comment on #{issue.number} (message {ts})")
