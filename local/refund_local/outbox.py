"""Every email SES accepted, recorded as the call returns: what `GET /_local/outbox` shows and the
console prints. Hooked into the SES client's botocore events, so the notifier runs unchanged."""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from email import policy as email_policy
from email.parser import BytesParser
from email.utils import getaddresses
from typing import TYPE_CHECKING, Any

from refund_core.policy.models import utc_iso

if TYPE_CHECKING:
    from mypy_boto3_ses import SESClient

_PARAMS = "refund_local.outbox.params"


@dataclass(frozen=True)
class OutboxMessage:
    to: tuple[str, ...]
    subject: str
    text: str
    sent_at: datetime

    def as_json(self) -> dict[str, Any]:
        return {"to": list(self.to), "subject": self.subject, "text": self.text, "sentAt": utc_iso(self.sent_at)}

    def for_console(self) -> str:
        body = "\n".join(f"    {line}".rstrip() for line in self.text.rstrip().splitlines())
        return f"email to {', '.join(self.to)}: {self.subject}\n{body}"


def _message(params: dict[str, Any], sent_at: datetime) -> OutboxMessage:
    data = params["RawMessage"]["Data"]
    parsed = BytesParser(policy=email_policy.default).parsebytes(data if isinstance(data, bytes) else data.encode())
    # Without Destinations, SES sends to the message's own To, Cc and Bcc headers.
    headers = [str(value) for name in ("To", "Cc", "Bcc") for value in parsed.get_all(name, [])]
    to = params.get("Destinations") or [address for _, address in getaddresses(headers)]
    text_part = parsed.get_body(preferencelist=("plain",))
    return OutboxMessage(
        to=tuple(to),
        subject=str(parsed["Subject"] or ""),
        text=text_part.get_content() if text_part is not None else "",
        sent_at=sent_at,
    )


class Outbox:
    """Oldest first. `echo` gets each message as it is sent (the console)."""

    def __init__(self, echo: Callable[[OutboxMessage], None] | None = None) -> None:
        self._messages: list[OutboxMessage] = []
        self._lock = threading.Lock()
        self._echo = echo

    def attach(self, ses: SESClient) -> None:
        events = ses.meta.events
        events.register("before-parameter-build.ses.SendRawEmail", self._remember, unique_id=_PARAMS)
        events.register("after-call.ses.SendRawEmail", self._record, unique_id=f"{_PARAMS}.record")

    @staticmethod
    def _remember(params: dict[str, Any], context: dict[str, Any], **_: Any) -> None:
        # The call's parameters, kept in its request context until SES has answered.
        context[_PARAMS] = params

    def _record(self, http_response: Any, context: dict[str, Any], **_: Any) -> None:
        if http_response.status_code != 200 or _PARAMS not in context:
            return
        message = _message(context[_PARAMS], datetime.now(UTC))
        with self._lock:
            self._messages.append(message)
        if self._echo is not None:
            self._echo(message)

    def messages(self) -> list[OutboxMessage]:
        with self._lock:
            return list(self._messages)
