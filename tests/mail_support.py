"""A letter to the refunds address, as a mail program writes it: the unit, integration and end-to-end tests of
letters (LETTERS.md) build theirs here."""

from __future__ import annotations

from email.message import EmailMessage


def letter(
    body: str,
    *,
    sender: str = "bob@example.com",
    subject: str = "My refund",
    message_id: str = "<l-1@mail.example.com>",
    headers: dict[str, str] | None = None,
    html: bool = False,
) -> bytes:
    """From, To (the refunds address), Subject and Message-ID, then `headers` (In-Reply-To, References...); the
    body as its one part, plain text or (`html`) HTML."""
    message = EmailMessage()
    message["From"] = sender
    message["To"] = "refunds@example.com"
    message["Subject"] = subject
    message["Message-ID"] = message_id
    for name, value in (headers or {}).items():
        message[name] = value
    message.set_content(body, subtype="html" if html else "plain")
    return bytes(message)
