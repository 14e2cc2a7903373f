"""Letters read as LETTERS.md says (refund_core.policy.letters): real-looking messages from events/letters/
and variations on them, each field and the reasons' text, and every way a message can be unreadable."""

from __future__ import annotations

from email.message import EmailMessage
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from refund_core.policy.letters import (
    MAX_LETTER_BYTES,
    LetterProblem,
    UnreadableLetter,
    html_text,
    read_letter,
    reason_problem,
)

LETTERS = Path(__file__).resolve().parents[2] / "events" / "letters"


def letter(body: str, *, subject: str = "Refund", sender: str = "bob@example.com", html: bool = False) -> bytes:
    message = EmailMessage()
    message["From"] = sender
    message["To"] = "refunds@example.com"
    message["Subject"] = subject
    message["Message-ID"] = "<t-1@mail.example.com>"
    message.set_content(body, subtype="html" if html else "plain")
    return bytes(message)


def test_a_plain_letter_with_a_signature_and_a_quoted_reply() -> None:
    read = read_letter((LETTERS / "plain_en.eml").read_bytes())
    assert (read.username, read.order_id, read.ticket_id) == ("bob", "ord-2001", "T-2001")
    assert read.sender == "bob@example.com" and read.message_id == "<letter-plain-1@mail.example.com>"
    assert read.reasons.startswith("Hello,")
    assert "cannot fix it. I would like my money back." in read.reasons
    assert "Bob Chan" not in read.reasons and "+852" not in read.reasons, "the signature is not a reason"
    assert "We are sorry" not in read.reasons and "wrote:" not in read.reasons, "nor the quoted message"
    assert read.language is None


def test_an_html_only_letter_is_read_as_its_text() -> None:
    read = read_letter((LETTERS / "html_only.eml").read_bytes())
    assert (read.username, read.order_id, read.ticket_id) == ("erin", None, "T-5001")
    assert read.reasons == "The app crashes on start on my laptop & phone."
    assert "color" not in read.reasons and "quoted" not in read.reasons


def test_a_big5_letter_in_chinese_with_full_width_colons() -> None:
    read = read_letter((LETTERS / "big5_zh.eml").read_bytes())
    assert (read.username, read.order_id, read.ticket_id) == ("dave", "ord-4001", "T-4040")
    assert read.reasons == "連線經常中斷，客服亦無法解決，請退款。"
    assert read.subject == "退款申請" and read.language == "zh-HK"


def test_the_plain_part_is_read_and_the_attachment_never_is() -> None:
    read = read_letter((LETTERS / "multipart_attachment.eml").read_bytes())
    assert (read.username, read.order_id, read.ticket_id) == ("alice", "ord-1001", "T-1001")
    assert read.reasons == "速度太慢，無法使用。"
    assert "MZ" not in read.reasons and "invoice" not in read.reasons


@pytest.mark.parametrize(
    ("line", "field", "value"),
    [
        ("USERNAME:   alice  ", "username", "alice"),
        ("  Login : alice", "username", "alice"),
        ("用戶名：alice", "username", "alice"),
        ("用戶名稱 ： alice", "username", "alice"),
        ("帳戶: alice", "username", "alice"),
        ("Order number: ord-9", "order_id", "ord-9"),
        ("order: ord-9", "order_id", "ord-9"),
        ("訂單：ord-9", "order_id", "ord-9"),
        ("Support Ticket: T-9", "ticket_id", "T-9"),
        ("ticket id：T-9", "ticket_id", "T-9"),
        ("工單: T-9", "ticket_id", "T-9"),
        ("支援編號：T-9", "ticket_id", "T-9"),
    ],
)
def test_labels_in_any_case_with_either_colon(line: str, field: str, value: str) -> None:
    read = read_letter(letter(f"{line}\nIt drops all the time.\n"))
    assert getattr(read, field) == value
    assert read.reasons == "It drops all the time."


def test_a_label_without_a_colon_is_part_of_the_reasons() -> None:
    read = read_letter(letter("Order ord-9 keeps dropping.\n"))
    assert read.order_id is None and read.reasons == "Order ord-9 keeps dropping."


def test_the_first_of_two_labels_counts() -> None:
    read = read_letter(letter("Order: ord-1\nOrder: ord-2\nIt drops.\n"))
    assert read.order_id == "ord-1"


@pytest.mark.parametrize(
    "raw",
    [
        b"",
        b"\x00\x01\x02 not a message at all",
        b'Content-Type: multipart/mixed; boundary="x"\r\n\r\n--x\r\nContent-Type: text/plain\r\n',
    ],
)
def test_a_message_without_a_message_id_or_structure_is_unreadable(raw: bytes) -> None:
    with pytest.raises(UnreadableLetter) as unreadable:
        read_letter(raw)
    assert unreadable.value.problem is LetterProblem.UNREADABLE


def test_a_message_larger_than_a_letter_is_refused_unread() -> None:
    with pytest.raises(UnreadableLetter) as too_large:
        read_letter(letter("x" * (MAX_LETTER_BYTES + 1)))
    assert too_large.value.problem is LetterProblem.TOO_LARGE


def test_two_senders_in_from_name_nobody() -> None:
    assert read_letter(letter("It drops.", sender="a@example.com, b@example.com")).sender is None


@pytest.mark.parametrize(
    ("reasons", "problem"),
    [("", LetterProblem.NO_REASON), (" \n\t", LetterProblem.NO_REASON), ("x" * 2001, LetterProblem.REASON_TOO_LONG)],
)
def test_reasons_as_the_api_counts_them(reasons: str, problem: LetterProblem) -> None:
    assert reason_problem(reasons) is problem
    assert reason_problem("x" * 2000) is None


def test_html_text_keeps_no_markup_and_no_script() -> None:
    assert html_text("<p>a<script>alert(1)</script></p><div>b &lt;c&gt;</div>").split() == ["a", "b", "<c>"]


@settings(max_examples=60, deadline=None)
@given(st.binary(max_size=2000))
def test_no_bytes_make_the_reader_crash(raw: bytes) -> None:
    """Anything at all is a letter or an UnreadableLetter, never another exception."""
    try:
        read = read_letter(raw)
    except UnreadableLetter:
        return
    assert isinstance(read.reasons, str) and read.message_id


@pytest.mark.parametrize("language", ["en", "zh-HK", "fr"])
@pytest.mark.parametrize("problem", list(LetterProblem))
def test_every_reply_is_whole_in_each_language(problem: LetterProblem, language: str) -> None:
    from refund_core.policy.emails import letter_reply, mime_message  # noqa: PLC0415

    values = {
        "customer_name": "Bob",
        "support_email": "support@example.com",
        "control_panel_url": "https://refunds.example.com/",
        "max": "2000",
        "detail": "you already have an open request",
    }
    reply = letter_reply(problem, "bob@example.com", language, values, letter_message_id="<l@x>", letter_subject="Hi")
    assert reply.subject == "Re: Hi" and reply.in_reply_to == "<l@x>"
    for part in (reply.text, reply.html):
        assert "$" not in part and "{" not in part, part
        assert "support@example.com" in part and "https://refunds.example.com/" in part
    raw = mime_message(reply, "refunds@example.com").decode()
    assert "In-Reply-To: <l@x>" in raw and "References: <l@x>" in raw
