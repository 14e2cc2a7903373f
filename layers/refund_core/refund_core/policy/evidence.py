"""Evidence a customer or a reviewer attaches to a request (issue 26): which files are taken, and whether a
file's bytes are what its type says. Pure: the first bytes of a file in, a verdict out."""

from __future__ import annotations

import re
import unicodedata
from enum import StrEnum

MAX_FILES = 5
MAX_BYTES = 10 * 1024 * 1024
# What the type check reads of a file: enough for every signature, and for a text file's start.
SNIFFED_BYTES = 4096  # (a text file is read whole: markup may hide anywhere in it)
MAX_NAME_CHARACTERS = 200


class EvidenceType(StrEnum):
    PDF = "application/pdf"
    PNG = "image/png"
    JPEG = "image/jpeg"
    TEXT = "text/plain"


# The names each type's files go by: a download keeps its name, and a name says what opens it.
EXTENSIONS = {
    EvidenceType.PDF: (".pdf",),
    EvidenceType.PNG: (".png",),
    EvidenceType.JPEG: (".jpg", ".jpeg"),
    EvidenceType.TEXT: (".txt",),
}

_SIGNATURES = {
    EvidenceType.PDF: (b"%PDF-",),
    EvidenceType.PNG: (b"\x89PNG\r\n\x1a\n",),
    EvidenceType.JPEG: (b"\xff\xd8\xff",),
}
# Markup a browser would run or render if it ever took a "text" file for a page or an image.
_MARKUP = re.compile(rb"<\s*(!doctype|html|head|body|script|svg|iframe|object|embed|\?xml)", re.IGNORECASE)


def is_of_type(content_type: EvidenceType, first_bytes: bytes) -> bool:
    """Do the file's first bytes say it is `content_type`? A PDF, PNG or JPEG by its signature; plain text when it
    is UTF-8 (a character cut at the end of what was read aside) without NUL or markup: an HTML page or an SVG
    image named `.png` or `.txt` is not evidence."""
    if content_type is EvidenceType.TEXT:
        if b"\x00" in first_bytes or _MARKUP.search(first_bytes):
            return False
        try:
            first_bytes.decode("utf-8")
        except UnicodeDecodeError as error:
            return len(first_bytes) == SNIFFED_BYTES and error.start >= len(first_bytes) - 3
        return True
    return first_bytes.startswith(_SIGNATURES[content_type])


def file_name_problem(name: str) -> str | None:
    """Why a file's name cannot be kept as written (None: it can): it is shown to people and written into a
    download's Content-Disposition, so no control character, no path, and some visible text."""
    if not name.strip() or len(name) > MAX_NAME_CHARACTERS:
        return f"must be 1 to {MAX_NAME_CHARACTERS} characters"
    if any(unicodedata.category(character) in ("Cc", "Cf", "Cs") for character in name):
        return "must not contain control characters"
    if "/" in name or "\\" in name or name.strip() in (".", ".."):
        return "must be a file's name, not a path"
    return None


def extension_problem(name: str, content_type: EvidenceType) -> str | None:
    """Why `name` does not name a file of `content_type` (None: it does)."""
    if name.lower().endswith(EXTENSIONS[content_type]):
        return None
    return f"must end in {' or '.join(EXTENSIONS[content_type])} for a {content_type} file"


def named_for_its_type(name: str, content_type: EvidenceType) -> str:
    """A letter's file named so that it says what it is (its own name, with the type's extension added)."""
    if extension_problem(name, content_type) is None:
        return name
    return f"{name[: MAX_NAME_CHARACTERS - 5]}{EXTENSIONS[content_type][0]}"
