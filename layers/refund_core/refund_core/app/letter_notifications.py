"""What SES publishes once it has stored a received message (its S3 action's notification, through SNS and the
letters queue): where the letter is, and SES's verdicts on who sent it (LETTERS.md)."""

from __future__ import annotations

import re
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from refund_core.settings import settings

# The authserv-id of the Authentication-Results header SES's receiving adds to every message it takes.
SES_AUTHSERV_ID = "amazonses.com"
_DMARC_FROM = re.compile(r"\bdmarc=pass\b[^;]*?\bheader\.from=([^\s;]+)", re.IGNORECASE)


class Verdict(BaseModel):
    status: str


class StoredInS3(BaseModel):
    model_config = ConfigDict(populate_by_name=True)

    type: Literal["S3"]
    bucket_name: str = Field(alias="bucketName")
    object_key: str = Field(alias="objectKey")


class Receipt(BaseModel):
    model_config = ConfigDict(populate_by_name=True)

    spf: Verdict = Field(alias="spfVerdict")
    dkim: Verdict = Field(alias="dkimVerdict")
    # DMARC: SPF or DKIM passed for the From header's own domain (a DKIM pass alone may be any domain's).
    dmarc: Verdict = Field(default=Verdict(status="GRAY"), alias="dmarcVerdict")
    virus: Verdict = Field(alias="virusVerdict")
    action: StoredInS3


class Header(BaseModel):
    name: str
    value: str


class Mail(BaseModel):
    model_config = ConfigDict(populate_by_name=True)

    message_id: str = Field(alias="messageId")  # SES's own id: the stored object's name
    source: str
    # The message's headers, SES's own first: its Authentication-Results names the domain DMARC was evaluated on.
    headers: list[Header] = []

    @property
    def dmarc_domain(self) -> str | None:
        """The From domain of SES's DMARC verdict (`dmarc=pass header.from=example.com`): the first
        Authentication-Results, which SES adds above the message's own, and only if SES wrote it."""
        results = next((header.value for header in self.headers if header.name.lower() == "authentication-results"), "")
        if results.partition(";")[0].strip().lower() != SES_AUTHSERV_ID:
            return None
        evaluated = _DMARC_FROM.search(results)
        return evaluated.group(1).lower() if evaluated else None


class ReceiptNotification(BaseModel):
    """What SES publishes once a received message is stored (its S3 action's SNS notification)."""

    model_config = ConfigDict(populate_by_name=True)

    notification_type: Literal["Received"] = Field(alias="notificationType")
    mail: Mail
    receipt: Receipt

    @property
    def authentic(self) -> bool:
        """SPF or DKIM passed (LETTERS.md: else no request and no reply); who sent it is `vouches_for`'s."""
        return "PASS" in (self.spf_status, self.dkim_status)

    @property
    def spf_status(self) -> str:
        return self.receipt.spf.status.upper()

    @property
    def dkim_status(self) -> str:
        return self.receipt.dkim.status.upper()

    def vouches_for(self, sender: str | None) -> bool:
        """Is the From address `sender` really who sent it? DMARC passed for its very domain (SPF or DKIM
        aligned with the domain SES evaluated it on, which must be the sender's: DMARC vouches for nothing
        else), or SPF passed for an envelope sender that is this very address."""
        if sender is None:
            return False
        domain = sender.rpartition("@")[2]
        if self.receipt.dmarc.status.upper() == "PASS" and domain == self.mail.dmarc_domain:
            return True
        return self.spf_status == "PASS" and sender == self.source

    @property
    def source(self) -> str:
        return self.mail.source.strip().lower()

    @property
    def automatic(self) -> bool:
        """A bounce or a program's message (empty or daemon envelope): never answered, so no mail loop."""
        local = self.source.partition("@")[0]
        return not self.source or local in ("mailer-daemon", "postmaster") or self.source == settings().sender_email
