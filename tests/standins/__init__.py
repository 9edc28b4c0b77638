"""Small local stand-ins for vendor HTTP APIs (Slack, GitHub, OpenAI, Anthropic), for tests.

Each is a real HTTP server on 127.0.0.1 (a free port, its own thread) answering the few
endpoints the tests touch the way the vendor does, and recording what it was sent::

    with SlackStandIn(tokens={"xoxb-good"}) as slack:
        WebClient("xoxb-good", base_url=slack.base_url).chat_postMessage(channel="C1", text="hi")
        assert slack.messages[0]["text"] == "hi"
"""

from tests.standins.base import Recorded, StandIn

__all__ = ["Recorded", "StandIn"]
