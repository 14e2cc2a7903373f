"""The service's outbound calls: an email through SES, an event onto the EventBridge bus."""

from __future__ import annotations

import json
from typing import Any

from refund_core.adapters import clients
from refund_core.adapters.settings import settings
from refund_core.policy.emails import Email, mime_message

EVENT_SOURCE = "smart-security.refunds"


class EventNotPublished(RuntimeError):
    """EventBridge accepted the call but not the entry; raised so that the caller retries."""


def send_email(email: Email) -> str:
    """Sends the email as a MIME message (text and HTML); returns SES's message id."""
    arguments: dict[str, Any] = {
        "Source": settings().sender_email,
        # No Destinations: SES takes them from the To header (naming them twice would send twice).
        "RawMessage": {"Data": mime_message(email, settings().sender_email)},
    }
    if settings().ses_configuration_set:
        arguments["ConfigurationSetName"] = settings().ses_configuration_set
    response = clients.ses().send_raw_email(**arguments)
    return str(response["MessageId"])


def publish_event(detail_type: str, detail: dict[str, Any]) -> str:
    """Puts one event of this service on its bus; returns the event id."""
    response = clients.eventbridge().put_events(
        Entries=[
            {
                "Source": EVENT_SOURCE,
                "DetailType": detail_type,
                "Detail": json.dumps(detail),
                "EventBusName": settings().event_bus_name,
            }
        ]
    )
    entry = response["Entries"][0]
    if response.get("FailedEntryCount") or "EventId" not in entry:
        raise EventNotPublished(f"{detail_type}: {entry.get('ErrorCode')}: {entry.get('ErrorMessage')}")
    return str(entry["EventId"])
