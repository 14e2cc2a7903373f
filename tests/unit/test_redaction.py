"""The log redaction itself: every email address masked to `a***@example.com`, wherever it sits in a record."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from aws_lambda_powertools import Logger

from refund_core.observability import RedactingFormatter, logger, redact


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("alice@example.com", "a***@example.com"),
        ("a@example.com", "a***@example.com"),
        ("to: Alice <alice.smith+refunds@mail.example.co.uk>.", "to: Alice <a***@mail.example.co.uk>."),
        ("bob@example.com,carol@example.org", "b***@example.com,c***@example.org"),
        ("józef.müller@beispiel.de", "j***@beispiel.de"),
        ("The following identities failed: ALICE@EXAMPLE.COM", "The following identities failed: A***@EXAMPLE.COM"),
        ('{"customerEmail": {"S": "dave_o\'neil@example.com"}}', '{"customerEmail": {"S": "d***@example.com"}}'),
        ("a***@example.com", "a***@example.com"),
        ("sent to=alice@example.com", "sent to=a***@example.com"),
        ("refund request rr_01JD for order ord-1001", "refund request rr_01JD for order ord-1001"),
        ("user@localhost and @example.com", "user@localhost and @example.com"),
    ],
    ids=[
        "plain",
        "one-letter",
        "dots-plus-subdomains",
        "two-addresses",
        "unicode",
        "upper-case",
        "inside-json-text",
        "already-masked",
        "after-a-sign",
        "no-address",
        "not-addresses",
    ],
)
def test_redact_masks_every_address_to_its_first_letter_and_domain(text: str, expected: str) -> None:
    assert redact(text) == expected


class Recipient:
    """An object the JSON serializer can only write through `str`."""

    def __str__(self) -> str:
        return "Recipient(erin@example.com)"


PROBE = Logger(service="redaction-probe", logger_formatter=RedactingFormatter())


@pytest.fixture
def written() -> Iterator[io.StringIO]:
    """What a logger with the redacting formatter writes."""
    output = io.StringIO()
    handler = PROBE.registered_handler
    assert isinstance(handler, logging.StreamHandler)
    before = handler.setStream(output)
    yield output
    handler.setStream(before)


def test_every_part_of_a_record_is_redacted(written: io.StringIO) -> None:
    try:
        raise RuntimeError("MessageRejected: Email address is not verified: frank@example.com")
    except RuntimeError:
        PROBE.exception(
            "sending to %s failed",
            "alice@example.com",
            extra={
                "recipient": "bob@example.com",
                "claims": {"email": "carol@example.com", "groups": ["dave@example.com"]},
                "who": Recipient(),
                "at": datetime(2026, 11, 26, tzinfo=UTC),
                "attempt": 2,
            },
        )
    line = written.getvalue()
    record = json.loads(line)
    assert record["message"] == "sending to a***@example.com failed"
    assert record["recipient"] == "b***@example.com"
    assert record["claims"] == {"email": "c***@example.com", "groups": ["d***@example.com"]}
    assert record["who"] == "Recipient(e***@example.com)"
    assert record["at"] == "2026-11-26 00:00:00+00:00"
    assert record["attempt"] == 2
    assert "f***@example.com" in record["exception"]
    assert record["service"] == "redaction-probe"
    for name in ("alice", "bob", "carol", "dave", "erin", "frank"):
        assert f"{name}@" not in line


def test_a_dict_message_is_redacted(written: io.StringIO) -> None:
    PROBE.warning({"to": ["alice@example.com"], "count": 1})
    assert json.loads(written.getvalue())["message"] == {"to": ["a***@example.com"], "count": 1}


def test_the_service_logger_uses_the_redacting_formatter() -> None:
    assert isinstance(logger.registered_formatter, RedactingFormatter)
