"""The service's outbound calls: an email through SES (as the MIME message SES sends), an event onto the
EventBridge bus, a delivery onto the queue of what is owed, a decisions export or a policy simulation onto its
job's queue."""

from __future__ import annotations

import json
import unicodedata
from email.message import EmailMessage
from typing import TYPE_CHECKING, Any

from botocore.exceptions import BotoCoreError, ClientError

from refund_core.adapters import clients
from refund_core.policy.emails import Email
from refund_core.settings import settings

if TYPE_CHECKING:
    from mypy_boto3_sqs.type_defs import SendMessageBatchRequestEntryTypeDef

EVENT_SOURCE = "smart-security.refunds"


class EventNotPublished(RuntimeError):
    """EventBridge accepted the call but not the entry; raised so that the caller retries."""


class DeliveryNotQueued(RuntimeError):
    """SQS refused some of a batch; raised so that the caller retries."""


def _header_text(value: str) -> str:
    """A header's value without control characters: a letter's subject or id, copied into an answer, could
    otherwise carry an escape sequence or a NUL to the customer's mail program."""
    return "".join(character for character in value if unicodedata.category(character) != "Cc")


def mime_message(email: Email, sender: str) -> bytes:
    """The email as a MIME multipart/alternative message (plain text, then HTML) for SES SendRawEmail."""
    message = EmailMessage()
    message["From"] = sender
    message["To"] = _header_text(email.to)
    message["Subject"] = _header_text(email.subject)
    if email.in_reply_to:
        message["In-Reply-To"] = _header_text(email.in_reply_to)
        message["References"] = _header_text(email.in_reply_to)
    if email.auto_replied:
        message["Auto-Submitted"] = "auto-replied"
    message.set_content(email.text)
    message.add_alternative(email.html, subtype="html")
    return message.as_bytes()


def send_email(email: Email, tags: dict[str, str]) -> str:
    """Sends the email as a MIME message (text and HTML); returns SES's message id. `tags` travel with it in
    SES's own sending records (the request and the kind: what tells a person whether it went)."""
    arguments: dict[str, Any] = {
        "Source": settings().sender_email,
        # No Destinations: SES takes them from the To header (naming them twice would send twice).
        "RawMessage": {"Data": mime_message(email, settings().sender_email)},
        "Tags": [{"Name": name, "Value": value} for name, value in tags.items()],
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


def enqueue_deliveries(deliveries: list[dict[str, Any]]) -> None:
    """Puts deliveries (JSON objects) on the delivery queue, ten to a call; raises when any is refused."""
    queue_url = settings().delivery_queue_url
    if not queue_url:
        raise RuntimeError("DELIVERY_QUEUE_URL is not set")
    for start in range(0, len(deliveries), 10):
        entries: list[SendMessageBatchRequestEntryTypeDef] = [
            {"Id": str(index), "MessageBody": json.dumps(delivery)}
            for index, delivery in enumerate(deliveries[start : start + 10])
        ]
        response = clients.sqs().send_message_batch(QueueUrl=queue_url, Entries=entries)
        if failed := response.get("Failed"):
            raise DeliveryNotQueued(f"{len(failed)} deliveries refused: {failed[0].get('Code')}")


class JobNotQueued(RuntimeError):
    """SQS did not take a long job (an export, a simulation)."""


def _enqueue_job(queue_url: str | None, setting: str, body: dict[str, str]) -> None:
    if not queue_url:
        raise RuntimeError(f"{setting} is not set")
    try:
        clients.sqs().send_message(QueueUrl=queue_url, MessageBody=json.dumps(body))
    except (ClientError, BotoCoreError) as error:
        raise JobNotQueued(f"{body}: {error}") from error


def enqueue_decisions_export(export_id: str) -> None:
    """The export's job (its next stretch, after the first) onto its queue."""
    _enqueue_job(settings().decisions_export_queue_url, "DECISIONS_EXPORT_QUEUE_URL", {"exportId": export_id})


def enqueue_policy_simulation(simulation_id: str) -> None:
    """The simulation's job (its next stretch, after the first) onto its queue."""
    queue_url = settings().policy_simulation_queue_url
    _enqueue_job(queue_url, "POLICY_SIMULATION_QUEUE_URL", {"simulationId": simulation_id})


def delay_delivery(receipt_handle: str, seconds: int) -> None:
    """The queue shows this delivery again in `seconds` (the backoff of a delivery that failed)."""
    queue_url = settings().delivery_queue_url
    if queue_url:
        clients.sqs().change_message_visibility(
            QueueUrl=queue_url, ReceiptHandle=receipt_handle, VisibilityTimeout=seconds
        )


class NoDeadLetterQueue(RuntimeError):
    """RECORDS_DEAD_LETTER_QUEUE_URL is not set: a refused event cannot be kept, so it is not let go."""


def refuse_record_event(body: str, reason: str, field: str) -> None:
    """The refused event, whole, into the records dead-letter queue with its reason (body and attributes)."""
    queue_url = settings().records_dead_letter_queue_url
    if not queue_url:
        raise NoDeadLetterQueue("RECORDS_DEAD_LETTER_QUEUE_URL is not set")
    message = json.dumps({"reason": reason, "field": field, "event": body})
    clients.sqs().send_message(
        QueueUrl=queue_url,
        MessageBody=message,
        MessageAttributes={
            "reason": {"DataType": "String", "StringValue": reason[:1000]},
            "field": {"DataType": "String", "StringValue": field},
        },
    )
