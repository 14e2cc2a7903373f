"""Every email SES accepted: what `GET /_local/outbox` shows (each message's HTML at `/_local/outbox/N.html`)
and the console prints. Read from the emulated SES's own record of what it sent, in this process, so the
notifier and every other function run unchanged in their workers."""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from email import policy as email_policy
from email.parser import BytesParser
from email.utils import getaddresses
from typing import Any

from refund_core.policy.models import utc_iso
from refund_local.environment import REGION


@dataclass(frozen=True)
class OutboxMessage:
    to: tuple[str, ...]
    subject: str
    text: str
    html: str
    sent_at: datetime
    in_reply_to: str | None = None
    # As SES writes it on what it sends (`<id>@<region>.amazonses.com`): what a reply names in In-Reply-To.
    message_id: str | None = None

    def as_json(self, number: int) -> dict[str, Any]:
        return {
            "to": list(self.to),
            "subject": self.subject,
            "text": self.text,
            "html": self.html,
            "htmlUrl": f"/_local/outbox/{number}.html",
            "sentAt": utc_iso(self.sent_at),
            "inReplyTo": self.in_reply_to,
            "messageId": self.message_id,
        }

    @classmethod
    def from_json(cls, saved: dict[str, Any]) -> OutboxMessage:
        return cls(
            to=tuple(saved["to"]),
            subject=saved["subject"],
            text=saved["text"],
            html=saved.get("html") or "",
            sent_at=datetime.fromisoformat(saved["sentAt"]),
            in_reply_to=saved.get("inReplyTo"),
            message_id=saved.get("messageId"),
        )

    def for_console(self) -> str:
        body = "\n".join(f"    {line}".rstrip() for line in self.text.rstrip().splitlines())
        return f"email to {', '.join(self.to)}: {self.subject}\n{body}"


def ses_message_id(ses_id: str) -> str:
    return f"<{ses_id}@{REGION}.amazonses.com>"


def parse_raw_message(
    data: bytes, destinations: list[str], sent_at: datetime, message_id: str | None = None
) -> OutboxMessage:
    parsed = BytesParser(policy=email_policy.default).parsebytes(data)
    # Without Destinations, SES sends to the message's own To, Cc and Bcc headers.
    headers = [str(value) for name in ("To", "Cc", "Bcc") for value in parsed.get_all(name, [])]
    to = destinations or [address for _, address in getaddresses(headers)]
    text_part = parsed.get_body(preferencelist=("plain",))
    html_part = parsed.get_body(preferencelist=("html",))
    return OutboxMessage(
        to=tuple(to),
        subject=str(parsed["Subject"] or ""),
        text=text_part.get_content() if text_part is not None else "",
        html=html_part.get_content() if html_part is not None else "",
        sent_at=sent_at,
        in_reply_to=str(parsed["In-Reply-To"]) if parsed["In-Reply-To"] else None,
        message_id=message_id,
    )


def _sent_by_ses() -> list[Any]:
    from moto.core.models import DEFAULT_ACCOUNT_ID  # noqa: PLC0415 - the emulator's own record, in this process
    from moto.ses.models import ses_backends  # noqa: PLC0415

    messages: list[Any] = ses_backends[DEFAULT_ACCOUNT_ID][REGION].sent_messages
    return messages


class Outbox:
    """Oldest first. `echo` gets each message as it is seen (the console)."""

    def __init__(self, echo: Callable[[OutboxMessage], None] | None = None, poll_seconds: float = 0.05) -> None:
        self._messages: list[OutboxMessage] = []
        self._seen = 0
        self._saved = 0
        self._lock = threading.Lock()
        self._echo = echo
        self._poll_seconds = poll_seconds
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._watch, name="outbox", daemon=True)

    def restore(self, saved: list[dict[str, Any]]) -> None:
        with self._lock:
            self._messages = [OutboxMessage.from_json(message) for message in saved]

    def start(self) -> Outbox:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stopping.set()
        if self._thread.is_alive():
            self._thread.join(5)
        self.collect()

    def _watch(self) -> None:
        while not self._stopping.wait(self._poll_seconds):
            self.collect()

    def collect(self) -> None:
        """Takes in what SES sent since the last look."""
        sent = _sent_by_ses()
        with self._lock:
            fresh = sent[self._seen :]
            self._seen += len(fresh)
            now = datetime.now(UTC)
            messages = [
                parse_raw_message(
                    message.raw_data.encode() if isinstance(message.raw_data, str) else message.raw_data,
                    list(message.destinations or []),
                    now,
                    ses_message_id(message.id),
                )
                for message in fresh
                if hasattr(message, "raw_data")
            ]
            self._messages.extend(messages)
        if self._echo is not None:
            for message in messages:
                self._echo(message)

    def changed_since_save(self) -> bool:
        with self._lock:
            return len(self._messages) != self._saved

    def mark_saved(self, count: int) -> None:
        """The first `count` messages are saved."""
        with self._lock:
            self._saved = count

    def messages(self) -> list[OutboxMessage]:
        with self._lock:
            return list(self._messages)

    def as_json(self) -> list[dict[str, Any]]:
        return [message.as_json(number) for number, message in enumerate(self.messages())]
