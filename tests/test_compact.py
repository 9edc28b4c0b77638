"""Journaled vendor results keep no credentials (akd.runner.compact) and still work.

The outcomes go through the same round trip a durable step's outcome does
(``akd.runner.outcomes.round_trip``), against local stand-ins with the vendors' own
clients on the other side.
"""

from __future__ import annotations

import pickle
from collections.abc import Iterator

import pytest

from akd.runner import compact
from akd.runner.outcomes import round_trip
from tests.standins.github import GitHubStandIn
from tests.standins.slack import SlackStandIn

BOT = "xoxb-compact-bot-token"
PAT = "ghp_compact_personal_token"


@pytest.fixture
def env(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("slack_conn__private_bot_token", BOT)
    monkeypatch.setenv("github_conn__pat", PAT)
    compact.reset()
    yield
    compact.reset()


def test_slack_response_is_journaled_without_the_token_and_still_pages(env: None) -> None:
    from slack_sdk import WebClient

    with SlackStandIn(tokens={BOT}) as slack:
        client = WebClient(BOT, base_url=slack.base_url)
        posted = client.chat_postMessage(channel="C1", text="hi")
        blob, (ok, replayed) = round_trip((True, posted))
        assert ok and BOT.encode() not in blob
        assert b"slack_conn__private_bot_token" in blob
        assert replayed["ts"] == posted["ts"] and replayed.status_code == 200
        assert replayed.req_args["headers"]["Authorization"] == f"Bearer {BOT}"

        first = client.conversations_list(limit=2)
        blob, (_, page) = round_trip((True, first))
        assert BOT.encode() not in blob
        names = [c["name"] for p in page for c in p["channels"]]  # next() asks the stand-in for pages 2, 3
        assert names == [f"channel-{i}" for i in range(5)]
        _, again = pickle.loads(blob)  # a later replay: a fresh object, same pages
        assert [c["id"] for p in again for c in p["channels"]] == [f"C{i}" for i in range(5)]


def test_a_token_that_is_no_var_stays_as_it_was(env: None) -> None:
    from slack_sdk import WebClient

    with SlackStandIn(tokens={"xoxb-written-in-the-code"}) as slack:
        response = WebClient("xoxb-written-in-the-code", base_url=slack.base_url).auth_test()
        blob, (_, replayed) = round_trip((True, response))
        assert b"xoxb-written-in-the-code" in blob
        assert replayed["user_id"] == "U1"


def test_slack_api_error_keeps_its_response_without_the_token(env: None) -> None:
    from slack_sdk import WebClient
    from slack_sdk.errors import SlackApiError

    with SlackStandIn(tokens={BOT}) as slack:
        client = WebClient(BOT, base_url=slack.base_url)
        with pytest.raises(SlackApiError) as caught:
            client.chat_postMessage(channel="", text="nowhere")
        blob, (ok, err) = round_trip((False, caught.value))
        assert not ok and BOT.encode() not in blob
        assert isinstance(err, SlackApiError) and err.response["error"] == "channel_not_found"


def test_github_objects_are_journaled_without_the_pat_and_keep_working(env: None) -> None:
    from github import Auth, Github

    with GitHubStandIn(pats={PAT}) as gh:
        user = Github(auth=Auth.Token(PAT), base_url=gh.url).get_user()
        assert user.login == "octocat"
        blob, (_, replayed) = round_trip((True, user))
        assert PAT.encode() not in blob and b"github_conn__pat" in blob
        repo = Github(auth=Auth.Token(PAT), base_url=gh.url).get_repo("octo/hello")
        blob, (_, replayed_repo) = round_trip((True, repo))
        assert PAT.encode() not in blob
        assert replayed_repo.full_name == "octo/hello"
        # The rebuilt requester authenticates with the PAT read back from the env.
        assert replayed.login == "octocat"
        replayed_repo.update()  # a fresh GET /repos/octo/hello with the rebuilt credentials
        assert replayed_repo.description == "a test repo"
