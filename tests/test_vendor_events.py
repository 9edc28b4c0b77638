"""Vendor deliveries shaped as AutoKitteh shapes them (pure functions)."""

from __future__ import annotations

import pytest

from akd.errors import InvalidArgument
from akd.services import vendor_events as ve
from akd.services.vendor_events import Delivery


def delivery(
    payload: dict[str, object], headers: dict[str, str] | None = None, category: str = "", form: bool = False
) -> Delivery:
    return Delivery(headers or {}, b"{}", dict(payload), category, form)


@pytest.mark.parametrize(("name", "snake"), [
    ("MessageSid", "message_sid"), ("SmsMessageSid", "sms_message_sid"), ("AccountSid", "account_sid"),
    ("MediaUrl0", "media_url_0"), ("MediaContentType1", "media_content_type_1"), ("NumMedia", "num_media"),
    ("From", "from"), ("ApiVersion", "api_version"), ("SMSStatus", "sms_status"), ("body", "body"),
])  # fmt: skip
def test_twilio_field_names_in_snake_case(name: str, snake: str) -> None:
    assert ve.snake(name) == snake


def test_twilio_message_and_its_delivery_id() -> None:
    form = {"MessageSid": "SM1", "From": "+1555", "Body": "hi", "SmsStatus": "received"}
    shaped = ve.twilio(delivery(form, form=True))
    assert shaped == ve.Shaped("message", {"message_sid": "SM1", "from": "+1555", "body": "hi",
                                           "sms_status": "received"}, "SM1:received")  # fmt: skip
    token = ve.twilio(delivery(form, {"i-twilio-idempotency-token": "tok"}, form=True))
    assert token.delivery_id == "tok"
    assert ve.twilio(delivery({"MessageSid": "SM2"})).data == {"MessageSid": "SM2"}  # JSON bodies: as sent


def test_jira_event_type_drops_the_jira_prefix() -> None:
    assert ve.jira(delivery({"webhookEvent": "jira:issue_created"})).event_type == "issue_created"
    assert ve.jira(delivery({"webhookEvent": "comment_created"})).event_type == "comment_created"
    shaped = ve.jira(delivery({"webhookEvent": "jira:issue_deleted"}, {"x-atlassian-webhook-identifier": "w-1"}))
    assert shaped.delivery_id == "w-1"
    assert ve.jira(delivery({"webhookEvent": "x"})).delivery_id == ve.body_digest(delivery({}))
    with pytest.raises(InvalidArgument, match="webhookEvent"):
        ve.jira(delivery({"issue": {}}))


def test_confluence_event_type_from_entity_and_category() -> None:
    assert ve.confluence(delivery({"page": {}}, category="created")).event_type == "page_created"
    assert ve.confluence(delivery({"attachments": []}, category="trashed")).event_type == "attachment_trashed"
    assert ve.confluence(delivery({"relationData": {}}, category="deleted")).event_type == "relation_deleted"
    assert ve.confluence(delivery({"event": "blog_created", "blog": {}})).event_type == "blog_created"
    with pytest.raises(InvalidArgument, match="category"):
        ve.confluence(delivery({"page": {}}))


def test_linear_zoom_stripe_standard_webhooks_and_discord() -> None:
    assert ve.linear(delivery({"type": "Issue"}, {"linear-event": "Issue", "linear-delivery": "d1"})) == ve.Shaped(
        "issue", {"type": "Issue"}, "d1")  # fmt: skip
    assert ve.linear(delivery({"type": "Comment"})).event_type == "comment"
    assert ve.zoom(delivery({"event": "meeting.ended", "payload": {}})).event_type == "meeting.ended"
    assert ve.stripe(delivery({"id": "evt_1", "type": "charge.succeeded"})).delivery_id == "evt_1"
    with pytest.raises(InvalidArgument, match="'id'"):
        ve.stripe(delivery({"type": "charge.succeeded"}))
    assert ve.standardwebhooks(delivery({"type": "user.created"}, {"webhook-id": "msg_1"})).delivery_id == "msg_1"
    assert ve.standardwebhooks(delivery({"data": 1}, {"svix-id": "msg_2"})) == ve.Shaped("webhook", {"data": 1},
                                                                                           "msg_2")  # fmt: skip
    assert ve.discord(delivery({"id": "i1", "type": 2})) == ve.Shaped("interaction_create", {"id": "i1", "type": 2},
                                                                        "i1")  # fmt: skip
