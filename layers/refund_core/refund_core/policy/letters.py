"""Requests by letter (LETTERS.md), read: the raw MIME message as SES stored it becomes what a customer
would have typed in the Control Panel (username, order, ticket, reasons), or the reason it cannot.

Pure: the standard library's email package parses (any charset, quoted-printable, base64); attachments are
skipped unread, never decoded further, never executed; nothing here sends or stores anything."""

from __future__ import annotations

import base64
import mimetypes
import re
import unicodedata
from dataclasses import dataclass, field
from email import policy as email_policy
from email.message import Message
from email.parser import BytesParser
from email.utils import getaddresses
from enum import StrEnum
from html.parser import HTMLParser

from refund_core.policy.evidence import (
    MAX_FILES,
    MAX_NAME_CHARACTERS,
    SNIFFED_BYTES,
    EvidenceType,
    file_name_problem,
    is_of_type,
)

# SES takes messages up to 40 MB; a letter is a few KB of text. Larger ones are refused unread.
MAX_LETTER_BYTES = 1_000_000
MAX_REASON_CHARACTERS = 2000
# An id a letter names (a username, an order, a ticket) is as long as one the API takes, at most.
MAX_ID_CHARACTERS = 128
# What a letter may hold before it is read (a letter is a text part, perhaps its HTML twin and a few files):
# beyond these, parsing alone could outlast the function's time, and the letter is answered as unreadable.
MAX_PARTS = 50
MAX_MULTIPARTS = 10
MAX_HEADER_BYTES = 64_000
_PART_HEADER = re.compile(rb"^content-type[ \t]*:", re.IGNORECASE | re.MULTILINE)
_BOUNDARY = re.compile(rb"boundary[ \t]*\*?[0-9]*\*?[ \t]*=", re.IGNORECASE)

LABELS = {
    "username": ("username", "user name", "login", "用戶名稱", "用戶名", "帳戶"),
    "order": ("order", "order id", "order number", "訂單", "訂單編號"),
    "ticket": ("ticket", "ticket id", "support ticket", "工單", "支援編號", "支援個案編號"),
}
_LABEL_OF = {label: name for name, labels in LABELS.items() for label in labels}
# A labelled line: the label (any case, spaces around), then ":" or the full-width "：", then the value.
_LABELLED = re.compile(
    r"^\s*(" + "|".join(sorted(map(re.escape, _LABEL_OF), key=len, reverse=True)) + r")\s*[:：]\s*(\S.*?)\s*$",
    re.IGNORECASE,
)
# Where the customer's own words end: the header mail programs put above an earlier message they quote
# ("On <date>, <someone> wrote:", Outlook's "-----Original Message-----", Gmail's Chinese "<date> <someone>
# 於 ... 寫道："), or their signature. Anchored at both ends: a reason that merely says "wrote:" is kept.
_QUOTE_HEADER = re.compile(
    r"^\s*(On\s.+\swrote:|-{2,}\s*Original Message\s*-{2,}|-{2,}\s*Forwarded message\s*-{2,}|.*\d.*於.+寫道[:：])\s*$",
    re.IGNORECASE,
)
_SIGNATURE = re.compile(r"^(--|—|__+)\s*$")
_CJK = re.compile(r"[\u3400-\u9fff]")
_MESSAGE_ID = re.compile(r"^<[^<>\s@]+@[^<>\s@]+>$")
_REFERENCED_ID = re.compile(r"<([^<>\s@]+@[^<>\s@]+)>")
# The ids a reply names that are looked at: a long thread's References grows with each message.
MAX_REPLIED_IDS = 20
_EVIDENCE_TYPES = frozenset(str(kind) for kind in EvidenceType)
# An address between angle brackets, as written in the raw header (an encoded word cannot hide a bracket).
_ANGLE_ADDRESS = re.compile(r"<([^<>]*)>")
_ADDRESS = re.compile(r"[^@\s<>\"(),;:]+@[^@\s<>\"(),;:]+")
MAX_SUBJECT_CHARACTERS = 200
# Mail programs write Message-IDs of a few dozen characters; a longer one is not kept (it is stored with the
# request and written into every answer's headers).
MAX_MESSAGE_ID_CHARACTERS = 250
# Labels that mail programs write as the smaller, older standard: read as the superset Hong Kong and
# mainland mail really uses (HKSCS characters such as 嘅 and 咗 are not in plain Big5).
_CHARSETS = {"big5": "big5hkscs", "gb2312": "gb18030", "gbk": "gb18030", "iso-8859-1": "cp1252", "us-ascii": "cp1252"}
# A message a program sent by itself (an out-of-office reply, a bounce): never a letter, never answered.
_AUTOMATIC_PRECEDENCE = frozenset({"bulk", "junk", "list", "auto_reply"})
_INVISIBLE = frozenset({"Cc", "Cf", "Zs", "Zl", "Zp"})


class LetterProblem(StrEnum):
    """Why a letter cannot become a request: each has its reply (email_templates/*/letter_reply.*)."""

    UNREADABLE = "unreadable"
    TOO_LARGE = "too_large"
    NO_USERNAME = "no_username"
    NO_ORDER = "no_order"
    NO_TICKET = "no_ticket"
    NO_REASON = "no_reason"
    REASON_TOO_LONG = "reason_too_long"
    REFUSED = "refused"  # the service refused the claim (a second open request...): its message says why


# The field whose line a reply asks the customer to add.
FIELD_ASKED_FOR = {
    LetterProblem.NO_USERNAME: "username",
    LetterProblem.NO_ORDER: "order",
    LetterProblem.NO_TICKET: "ticket",
}


@dataclass(frozen=True)
class LetterAttachment:
    """A file the letter carries that can be evidence: of an evidence type by its own bytes, base64 (a letter is
    small: at most MAX_LETTER_BYTES whole)."""

    file_name: str
    content_type: str
    data: str


@dataclass(frozen=True)
class Letter:
    # None when the letter has none (LETTERS.md does not ask for one), or none a mail program would write.
    message_id: str | None
    sender: str | None
    subject: str
    username: str | None
    order_id: str | None
    ticket_id: str | None
    reasons: str
    # The language the customer wrote in: Chinese when the letter is, else none (the language of record).
    language: str | None
    # Sent by a program (Auto-Submitted, Precedence: bulk...): answering it could start a loop of replies.
    automatic: bool = False
    # Each field's label as the customer wrote it ("訂單編號"): a reply asking again uses their word.
    labels: dict[str, str] = field(default_factory=dict)
    # The Message-IDs it replies to (In-Reply-To, then References, newest first), without their brackets: a
    # reply to one of a request's emails is an answer to that request.
    replies_to: tuple[str, ...] = ()
    # The customer's own lines whole (labelled lines included): what an answer by reply says.
    own_text: str = ""
    # Its attachments that can be evidence (the others are never decoded beyond their type).
    attachments: tuple[LetterAttachment, ...] = ()


class UnreadableLetter(ValueError):
    def __init__(self, problem: LetterProblem, message_id: str | None = None) -> None:
        super().__init__(problem.value)
        self.problem = problem
        self.message_id = message_id


class _Text(HTMLParser):
    """An HTML part as the text a person reads: block ends become line ends, scripts and styles dropped,
    quoted blocks (<blockquote>) left out like quoted lines."""

    _BLOCKS = frozenset({"p", "div", "br", "li", "tr", "h1", "h2", "h3", "h4", "h5", "h6", "table"})
    _SKIPPED = frozenset({"script", "style", "head", "title", "blockquote"})

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self._skipping = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in self._SKIPPED:
            self._skipping += 1
        elif tag in self._BLOCKS:
            self.parts.append("\n")

    def handle_endtag(self, tag: str) -> None:
        if tag in self._SKIPPED:
            self._skipping = max(0, self._skipping - 1)
        elif tag in self._BLOCKS:
            self.parts.append("\n")

    def handle_data(self, data: str) -> None:
        if not self._skipping:
            self.parts.append(data)


def html_text(markup: str) -> str:
    parser = _Text()
    parser.feed(markup)
    parser.close()
    return "".join(parser.parts)


def _part_text(part: Message) -> str:
    payload = part.get_payload(decode=True)
    if not isinstance(payload, bytes):
        return ""
    charset = part.get_content_charset() or "utf-8"
    charset = _CHARSETS.get(charset, charset)
    try:
        return payload.decode(charset, errors="replace")
    except LookupError:  # a charset Python does not know
        return payload.decode("utf-8", errors="replace")


def _readable_parts(part: Message) -> list[Message]:
    """The message's own text parts, depth first: an attachment, a forwarded message (message/rfc822) and
    everything inside them are left out whole, never decoded."""
    if part.get_content_disposition() == "attachment" or part.get_filename():
        return []
    if part.get_content_maintype() == "message":
        return []
    if part.is_multipart():
        payload = part.get_payload()
        children = payload if isinstance(payload, list) else []
        return [leaf for child in children if isinstance(child, Message) for leaf in _readable_parts(child)]
    return [part]


def _body_text(message: Message) -> str:
    """The plain part if there is one, else the HTML part as text; attachments are never read."""
    plain: str | None = None
    markup: str | None = None
    for part in _readable_parts(message):
        content_type = part.get_content_type()
        if content_type == "text/plain" and plain is None:
            plain = _part_text(part)
        elif content_type == "text/html" and markup is None:
            markup = _part_text(part)
    if plain is not None and plain.strip():
        return plain
    return html_text(markup) if markup else ""


def _own_lines(text: str) -> list[str]:
    """The customer's own lines: up to a quoted earlier message or the signature, quoted lines left out."""
    own: list[str] = []
    for line in text.replace("\r\n", "\n").replace("\r", "\n").split("\n"):
        if _SIGNATURE.match(line) or _QUOTE_HEADER.match(line):
            break
        if line.lstrip().startswith(">"):
            continue
        own.append(line.rstrip())
    return own


def _sender(message: Message) -> str | None:
    """The one mailbox of the letter's one From header, or None. With angle brackets, the address inside them
    and nothing else: `victim@example.com <attacker@evil.test>` is attacker@evil.test (a display name that looks
    like an address is only a name). Two From headers, two mailboxes, or two bracketed addresses: nobody."""
    raw = [value for name, value in message.raw_items() if name.lower() == "from"]
    if len(raw) != 1:
        return None
    bracketed = _ANGLE_ADDRESS.findall(raw[0])
    mailboxes = getaddresses([_header(message, "From")])
    if len(bracketed) > 1 or len(mailboxes) != 1:
        return None
    address = (bracketed[0] if bracketed else mailboxes[0][1]).strip().lower()
    return address if _ADDRESS.fullmatch(address) else None


def _too_costly(raw: bytes) -> bool:
    """Would reading it cost more than any letter's worth? Checked on the bytes, before any parsing: more
    parts or more nested multiparts than a letter has, or a header block (the message's own) larger than mail
    programs write. Such a message gets the reply a message that cannot be read gets."""
    head = re.split(rb"\r?\n\r?\n", raw, maxsplit=1)[0]
    return (
        len(head) > MAX_HEADER_BYTES
        or len(_PART_HEADER.findall(raw)) > MAX_PARTS
        or len(_BOUNDARY.findall(raw)) > MAX_MULTIPARTS
    )


def _header(message: Message, name: str) -> str:
    """A header of the message decoded (RFC 2047 words, any charset) only when asked for: the structure is read
    with the standard library's light parser, and each part's headers are never decoded whole."""
    value = next((value for header, value in message.raw_items() if header.lower() == name.lower()), None)
    return "" if value is None else str(email_policy.default.header_fetch_parse(name, value))


def read_letter(raw: bytes) -> Letter:
    """The letter's fields as LETTERS.md reads them; UnreadableLetter when it is too large or too costly to
    read, or is no message."""
    if len(raw) > MAX_LETTER_BYTES:
        raise UnreadableLetter(LetterProblem.TOO_LARGE)
    if _too_costly(raw):
        raise UnreadableLetter(LetterProblem.UNREADABLE)
    try:
        message = BytesParser(policy=email_policy.compat32).parsebytes(raw)
        message_id = _header(message, "Message-ID").strip()
        # One line, bounded: it heads every email that answers the letter.
        subject = " ".join(_header(message, "Subject").split())[:MAX_SUBJECT_CHARACTERS]
        sender = _sender(message)
        automatic = (_header(message, "Auto-Submitted").strip().lower() or "no") != "no" or (
            _header(message, "Precedence").strip().lower() in _AUTOMATIC_PRECEDENCE
        )
        text = _body_text(message)
    except Exception as error:  # any malformed structure the parser or a header class trips on
        raise UnreadableLetter(LetterProblem.UNREADABLE) from error
    usable_id = message_id if len(message_id) <= MAX_MESSAGE_ID_CHARACTERS and _MESSAGE_ID.match(message_id) else None
    signed = any(name.lower() == "from" for name, _ in message.raw_items())
    if not signed or (message.defects and not text.strip()):  # nobody wrote it, or there is nothing to read
        raise UnreadableLetter(LetterProblem.UNREADABLE, usable_id)
    fields: dict[str, str] = {}
    labels: dict[str, str] = {}
    reasons: list[str] = []
    own = _own_lines(text)
    for line in own:
        labelled = _LABELLED.match(line)
        # Case-folded, a label may no longer be one ("LOGİN"): then, as a repeated label, it is the
        # customer's own words.
        named = _LABEL_OF.get(labelled.group(1).lower()) if labelled else None
        if labelled and named and named not in fields:
            fields[named] = labelled.group(2)
            labels[named] = labelled.group(1)
        else:
            reasons.append(line)
    body = "\n".join(reasons).strip()
    body = re.sub(r"\n{3,}", "\n\n", body)
    return Letter(
        message_id=usable_id,
        sender=sender,
        subject=subject,
        username=fields.get("username"),
        order_id=fields.get("order"),
        ticket_id=fields.get("ticket"),
        reasons=body,
        language="zh-HK" if _CJK.search(body + subject) else None,
        automatic=automatic,
        labels=labels,
        replies_to=_replied_ids(message),
        attachments=_evidence_attachments(message),
        own_text=re.sub(r"\n{3,}", "\n\n", "\n".join(own).strip()),
    )


def _evidence_attachments(message: Message) -> tuple[LetterAttachment, ...]:
    """The attached files of an evidence type, by their bytes (the type a mail program declares, else the one
    the name says), at most MAX_FILES; a file named as a path keeps its last part."""
    found: list[LetterAttachment] = []
    try:
        parts = list(message.walk())
    except Exception:  # a structure the parser trips on carries no file we can take
        return ()
    for part in parts:
        name = part.get_filename()
        if part.is_multipart() or not name or len(found) == MAX_FILES:
            continue
        declared = part.get_content_type()
        guessed = mimetypes.guess_type(name)[0]
        kind = next((EvidenceType(value) for value in (declared, guessed) if value in _EVIDENCE_TYPES), None)
        payload = part.get_payload(decode=True)  # an undecodable one comes back as it is: not of its type
        if (
            kind is None
            or not isinstance(payload, bytes)
            or not payload
            or not is_of_type(kind, payload[:SNIFFED_BYTES])
        ):
            continue
        file_name = re.split(r"[/\\]", name)[-1].strip()[:MAX_NAME_CHARACTERS]
        if file_name_problem(file_name):
            file_name = f"attachment-{len(found) + 1}"
        found.append(LetterAttachment(file_name, str(kind), base64.b64encode(payload).decode("ascii")))
    return tuple(found)


def _replied_ids(message: Message) -> tuple[str, ...]:
    """The Message-IDs the letter answers, newest first: In-Reply-To's, then References' from its end."""
    try:
        replied = _REFERENCED_ID.findall(_header(message, "In-Reply-To"))
        referenced = _REFERENCED_ID.findall(_header(message, "References"))[::-1]
    except Exception:  # a malformed header names nothing it answers
        return ()
    return tuple(dict.fromkeys([*replied, *referenced]))[:MAX_REPLIED_IDS]


def reason_problem(reasons: str) -> LetterProblem | None:
    """A letter's reasons as API.md counts a reason: some visible text, at most 2,000 code points."""
    if not any(unicodedata.category(character) not in _INVISIBLE for character in reasons):
        return LetterProblem.NO_REASON
    if len(reasons) > MAX_REASON_CHARACTERS:
        return LetterProblem.REASON_TOO_LONG
    return None
