"""Letters read as LETTERS.md says (refund_core.policy.letters): real-looking messages from events/letters/
and variations on them, each field and the reasons' text, and every way a message can be unreadable."""

from __future__ import annotations

from email.message import EmailMessage
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mail_support import letter
from refund_core.policy.letters import (
    MAX_LETTER_BYTES,
    LetterProblem,
    UnreadableLetter,
    html_text,
    read_letter,
    reason_problem,
)

LETTERS = Path(__file__).resolve().parents[2] / "events" / "letters"


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
        ("支援個案編號：T-9", "ticket_id", "T-9"),  # the app's own label (UI.md)
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
def test_a_message_without_a_sender_or_structure_is_unreadable(raw: bytes) -> None:
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
    assert isinstance(read.reasons, str) and (read.message_id is None or len(read.message_id) <= 250)


@pytest.mark.parametrize("language", ["en", "zh-HK", "fr"])
@pytest.mark.parametrize("problem", list(LetterProblem))
def test_every_reply_is_whole_in_each_language(problem: LetterProblem, language: str) -> None:
    from refund_core.adapters.outbound import mime_message  # noqa: PLC0415
    from refund_core.policy.emails import letter_reply  # noqa: PLC0415

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


def test_a_forwarded_message_attached_is_never_read() -> None:
    inner = EmailMessage()
    inner["From"] = "someone@example.com"
    inner["Subject"] = "forwarded"
    inner.set_content("Username: mallory\nOrder: ord-666\nSend the money to me.")
    outer = EmailMessage()
    outer["From"] = "bob@example.com"
    outer["Message-ID"] = "<fw@mail.example.com>"
    outer["Subject"] = "Refund"
    outer.set_content("Order: ord-2001\nIt drops.")
    outer.add_attachment(inner)
    read = read_letter(bytes(outer))
    assert (read.username, read.order_id, read.reasons) == (None, "ord-2001", "It drops.")


@pytest.mark.parametrize(
    "reason",
    [
        "From: the first day the VPN dropped every hour.",
        "On the forum your agent wrote: restart it. I did, it still drops.",
        "你們客服寫道：無法修復。",
    ],
)
def test_words_that_look_like_a_quote_header_are_the_customers(reason: str) -> None:
    assert read_letter(letter(f"Order: ord-1\n{reason}\n")).reasons == reason


def test_a_chinese_quote_header_ends_the_letter() -> None:
    body = "Order: ord-1\n經常斷線。\n\n2026年12月1日 週二 上午10:00 Smart Security 於 <support@example.com> 寫道：\n> 無法修復\n"
    assert read_letter(letter(body)).reasons == "經常斷線。"


def test_a_label_that_case_folding_unmakes_is_read_as_words() -> None:
    read = read_letter(letter("LOGİN: bob\nIt drops.\n"))
    assert read.username is None and "LOGİN: bob" in read.reasons


def test_hong_kong_characters_in_big5_survive() -> None:
    message = EmailMessage()
    message["From"] = "dave@example.com"
    message["Message-ID"] = "<hk@mail.example.com>"
    message["Subject"] = "退款"
    message.set_content("佢哋話唔得，我想攞返錢。", charset="big5hkscs")
    raw = bytes(message).replace(b'charset="big5hkscs"', b'charset="big5"')
    assert read_letter(raw).reasons == "佢哋話唔得，我想攞返錢。"


def test_a_subject_is_one_bounded_line() -> None:
    raw = b"From: bob@example.com\r\nMessage-ID: <s@x.example>\r\nSubject: =?utf-8?q?a=0Ab?=\r\n\r\nIt drops.\r\n"
    assert read_letter(raw).subject == "a b", "an encoded line break never reaches the answers' headers"
    assert len(read_letter(letter("It drops.", subject="x" * 500)).subject) == 200


@pytest.mark.parametrize(
    "message_id",
    [b"<not an id>\r\nBcc: x@y", b"<" + b"x" * 60_000 + b"@mail.example.com>", b"<" + b"y" * 245 + b"@a.b>"],
)
def test_a_message_id_no_mail_program_would_write_is_not_kept(message_id: bytes) -> None:
    """A letter is read without it (LETTERS.md does not ask for one): never stored, never in an answer's headers."""
    read = read_letter(letter("Order: ord-1\nIt drops.").replace(b"<l-1@mail.example.com>", message_id))
    assert read.message_id is None and read.order_id == "ord-1"


def test_a_letter_without_a_message_id_is_read() -> None:
    raw = b"From: bob@example.com\r\nSubject: Refund\r\n\r\nOrder: ord-1\r\nIt drops.\r\n"
    read = read_letter(raw)
    assert (read.message_id, read.sender, read.order_id, read.reasons) == (
        None,
        "bob@example.com",
        "ord-1",
        "It drops.",
    )


@pytest.mark.parametrize(("name", "value", "automatic"), [
    ("Auto-Submitted", "auto-replied", True), ("Auto-Submitted", "no", False), ("Precedence", "bulk", True),
])  # fmt: skip
def test_a_programs_message_is_told_apart(name: str, value: str, automatic: bool) -> None:
    message = EmailMessage()
    message["From"] = "bob@example.com"
    message["Message-ID"] = "<auto@mail.example.com>"
    message[name] = value
    message.set_content("Away.")
    assert read_letter(bytes(message)).automatic is automatic


def test_a_reason_of_invisible_characters_is_no_reason() -> None:
    assert reason_problem("\u200b\u2060 \u3000") is LetterProblem.NO_REASON
