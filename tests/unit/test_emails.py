"""The emails, rendered without AWS: each kind's content, the amount and the path of the money, every
refusal reason, the Apple wording, the customer's own text escaped in HTML, and no internal codes."""

from __future__ import annotations

import json
import re
from dataclasses import replace
from datetime import datetime
from email import policy as email_policy
from email.parser import BytesParser
from pathlib import Path
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

import pytest

from refund_core.adapters.outbound import mime_message
from refund_core.policy.calendar import review_timeline
from refund_core.policy.document import Policy
from refund_core.policy.emails import Email, EmailKind, NoRecipient, Recipients, render
from refund_core.policy.models import (
    Decision,
    EarlierClaim,
    Outcome,
    RefundRequest,
    RefundType,
    RequestStatus,
    RuleId,
)
from refund_core.policy.money import Money
from refund_core.policy.wording import long_date

if TYPE_CHECKING:
    from conftest import ClaimBuilder  # the unit tests' shared builder (fixture `claim`)

HK = ZoneInfo("Asia/Hong_Kong")
STAFF = Recipients(
    customer="alice@example.com", reviewers="reviewers@example.com", supervisors="supervisors@example.com"
)
NO_CUSTOMER_ADDRESS = Recipients(
    customer=None, reviewers="reviewers@example.com", supervisors="supervisors@example.com"
)
RECEIVED_SATURDAY = datetime(2026, 11, 28, 10, 15, tzinfo=HK)
DECIDED_AT = datetime(2026, 12, 3, 15, 0, tzinfo=HK)
CUSTOMER_REASON = 'It drops <b>every</b> minute & "support" can\'t fix it'
INTERNAL_CODES = (
    *(str(code) for code in RuleId),
    *(str(code) for code in Outcome),
    *(str(code) for code in RequestStatus),
    *(str(code) for code in RefundType),
    "apple_itunes",
)


def pending(claim: ClaimBuilder, policy: Policy, **changes: Any) -> RefundRequest:
    facts = claim.facts(received_at=RECEIVED_SATURDAY, **changes)
    timeline = review_timeline(RECEIVED_SATURDAY, policy)
    return RefundRequest(
        request_id="rr_01KB4Q7M2X9T3V8E6R5W1Z0H4N",
        order_id=facts.order.order_id,
        username="alice",
        reason=CUSTOMER_REASON,
        support_ticket_id=facts.support_ticket_id,
        status=RequestStatus.PENDING,
        received_at=RECEIVED_SATURDAY,
        deadline=timeline.deadline,
        reminder_at=timeline.reminder_at,
        assessment=claim.assess(facts),
        amount_paid=facts.order.amount_paid,
        payment_channel=facts.order.payment_channel,
    )


def approved(request: RefundRequest, amount: Money, refund_type: RefundType, note: str | None = None) -> RefundRequest:
    grounds = request.assessment.failed() if refund_type is RefundType.PARTIAL else ()
    decision = Decision(
        refund_type=refund_type, amount=amount, reasons=tuple(rule.reason for rule in grounds), grounds=grounds,
        decided_at=DECIDED_AT, decided_by="rev", note=note,
    )  # fmt: skip
    return request.model_copy(update={"status": RequestStatus.APPROVED, "decision": decision})


def refused(request: RefundRequest, note: str | None = None) -> RefundRequest:
    reasons = (*(rule.reason for rule in request.assessment.failed()), *((note,) if note else ()))
    decision = Decision(
        refund_type=None, amount=None, reasons=reasons, grounds=request.assessment.failed(), decided_at=DECIDED_AT,
        decided_by="auto", note=note,
    )  # fmt: skip
    return request.model_copy(update={"status": RequestStatus.REFUSED, "decision": decision})


def customer_email(kind: EmailKind, request: RefundRequest, policy: Policy) -> Email:
    email = render(kind, request, policy, STAFF)
    assert email.to == "alice@example.com"
    for code in INTERNAL_CODES:
        assert code not in email.subject, code
        assert code not in email.text, code
        assert code not in email.html, code
    return email


def test_long_date_is_the_hong_kong_date_in_full_with_the_year() -> None:
    assert (
        long_date(datetime(2026, 12, 11, 15, 59, 59, 999000, tzinfo=ZoneInfo("UTC")), HK) == "Friday 11 December 2026"
    )
    assert long_date(datetime(2026, 12, 11, 16, 0, tzinfo=ZoneInfo("UTC")), HK) == "Saturday 12 December 2026"


def test_acknowledgement_says_received_and_the_decision_date_with_the_year(claim: ClaimBuilder, policy: Policy) -> None:
    request = pending(claim, policy, traffic=12 * 10**9)
    email = customer_email(EmailKind.ACKNOWLEDGEMENT, request, policy)

    assert email.subject == "We have received your refund request for order O-1"
    assert "We have received your request for a refund for order O-1 on Saturday 28 November 2026" in email.text
    assert "within 10 working days: you will have our decision by Friday 11 December 2026." in email.text
    assert request.request_id in email.text
    assert "cancel" in email.text
    assert "<strong>Friday 11 December 2026</strong>" in email.html


@pytest.mark.parametrize("kind", [EmailKind.ACKNOWLEDGEMENT, EmailKind.CANCELLATION])
def test_the_customer_is_greeted_by_their_name_of_record_else_as_a_customer_never_by_username(
    claim: ClaimBuilder, policy: Policy, kind: EmailKind
) -> None:
    request = pending(claim, policy)
    named = Recipients(customer="kim@example.com", reviewers="r@example.com", supervisors="s@example.com",
                       customer_name="Kim <Lee>")  # fmt: skip
    email = render(kind, request, policy, named)
    assert "Dear Kim <Lee>," in email.text
    assert "Dear Kim &lt;Lee&gt;," in email.html
    unnamed = render(kind, request, policy, STAFF).text
    assert "Dear customer," in unnamed
    assert request.username not in unnamed.split("\n")[0]
    chinese = replace(STAFF, customer_language="zh-HK")
    assert render(kind, request, policy, chinese).text.startswith("客戶 您好：")


def test_the_customers_own_text_is_escaped_in_html_and_kept_in_text(claim: ClaimBuilder, policy: Policy) -> None:
    request = pending(claim, policy).model_copy(update={"reason": CUSTOMER_REASON + "\nsecond line"})
    email = customer_email(EmailKind.ACKNOWLEDGEMENT, request, policy)

    assert CUSTOMER_REASON in email.text
    assert "<b>" not in email.html
    assert "It drops &lt;b&gt;every&lt;/b&gt; minute &amp; &quot;support&quot; can&#x27;t fix it<br>\nsecond line" in (
        email.html
    )


def test_html_escapes_the_username_and_a_reviewers_note(claim: ClaimBuilder, policy: Policy) -> None:
    request = refused(pending(claim, policy, connections=101), note="See <a href='x'>this</a>").model_copy(
        update={"username": "<script>alert(1)</script>"}
    )
    email = customer_email(EmailKind.DECISION, request, policy)
    reminder = render(EmailKind.REMINDER, request, policy, STAFF)  # the reviewers' emails name the username

    assert "<script>" not in reminder.html
    assert "&lt;script&gt;" in reminder.html
    assert "<a href='x'>" not in email.html
    assert "See &lt;a href=&#x27;x&#x27;&gt;this&lt;/a&gt;" in email.html
    assert "See <a href='x'>this</a>" in email.text


def test_full_approval_names_the_amount_and_the_path_of_the_money(claim: ClaimBuilder, policy: Policy) -> None:
    request = approved(pending(claim, policy), Money.of("100.00", "USD"), RefundType.FULL)
    email = customer_email(EmailKind.DECISION, request, policy)

    assert email.subject == "Your refund for order O-1 is approved"
    assert "approve a full refund of US$100.00, the amount you paid." in email.text
    assert f"We will now send the refund {policy.refund_path('card')}." in email.text
    assert "within 5 to 10 working days" in email.text
    assert "<strong>US$100.00</strong>" in email.html


@pytest.mark.parametrize("channel", ["card", "paypal", "crypto", "bank_transfer", None])
def test_the_path_of_the_money_follows_the_payment_channel(
    claim: ClaimBuilder, policy: Policy, channel: str | None
) -> None:
    request = approved(pending(claim, policy, channel=channel), Money.of("100.00", "USD"), RefundType.FULL)
    email = customer_email(EmailKind.DECISION, request, policy)

    assert f"We will now send the refund {policy.refund_path(channel)}." in email.text
    assert "usually" in email.text


def test_partial_approval_names_both_amounts_every_reason_and_the_note(claim: ClaimBuilder, policy: Policy) -> None:
    request = pending(claim, policy, traffic=12_500_000_000, channel="paypal")
    (traffic_reason,) = (rule.reason for rule in request.assessment.failed())
    request = approved(request, Money.of("97.50", "USD"), RefundType.PARTIAL, note="2.50 USD for 2.5 GB of excess.")
    email = customer_email(EmailKind.DECISION, request, policy)

    assert email.subject == "Your refund for order O-1 is approved in part"
    assert "approve a partial refund of US$97.50 of the US$100.00 you paid." in email.text
    assert f"- {traffic_reason}" in email.text
    assert "(Refund Policy: “You have used less than 10 GB of bandwidth”)" in email.text
    assert "- 2.50 USD for 2.5 GB of excess." in email.text
    assert "We will now send the refund back to your PayPal account, usually within 3 to 5 working days." in email.text
    assert email.html.count("<li>") == 2


def test_partial_approval_without_failed_rules_or_note_still_says_why(claim: ClaimBuilder, policy: Policy) -> None:
    request = approved(pending(claim, policy, traffic=None), Money.of("50.00", "USD"), RefundType.PARTIAL)
    email = customer_email(EmailKind.DECISION, request, policy)

    assert "- Under our Refund Policy such a refund is at our sole discretion." in email.text


def test_an_app_store_approval_says_apple_handles_the_refund(claim: ClaimBuilder, policy: Policy) -> None:
    # The guards forbid it; were one recorded anyway, the email must not promise money from us.
    request = approved(pending(claim, policy, channel="apple_itunes"), Money.of("100.00", "USD"), RefundType.FULL)
    email = customer_email(EmailKind.DECISION, request, policy)

    assert policy.excluded_channel_reasons["apple_itunes"] in email.text
    assert "refunded by Apple, not by us" in email.html
    assert "We will now send the refund" not in email.text


def test_refusal_gives_every_failed_rules_reason_with_its_clause(claim: ClaimBuilder, policy: Policy) -> None:
    request = pending(
        claim,
        policy,
        channel="apple_itunes",
        connections=150,
        ticket_changes={"official_response": "fixed"},
        earlier_claims=(
            EarlierClaim(
                request_id="rr_0",
                order_id="O-0",
                status=RequestStatus.REFUSED,
                received_at=datetime(2026, 3, 1, tzinfo=HK),
            ),
        ),
    )
    assert request.assessment.outcome is Outcome.REFUSED
    request = refused(request)
    assert request.decision is not None
    reasons = request.decision.reasons
    assert len(reasons) == 4
    email = customer_email(EmailKind.DECISION, request, policy)

    assert email.subject == "Your refund request for order O-1 is refused"
    assert "we cannot make a refund, for these reasons:" in email.text
    for reason in reasons:  # dates written as the email writes them, not as the API does
        assert f"- {reason.replace('2026-03-01', 'Sunday 1 March 2026')}" in email.text
        assert "(Refund Policy: “" in reason
    assert email.html.count("<li>") == 4
    assert "You made 150 connections, more than the 100 allowed." in email.text
    assert "our support said the problem was fixed" in email.text
    assert "You already claimed a refund under this Policy on Sunday 1 March 2026" in email.text
    # The Apple wording, from the rule's reason (the policy document's excluded-channel reason).
    assert policy.excluded_channel_reasons["apple_itunes"] in email.text
    assert "Orders paid through the Apple iTunes Store are refunded by Apple, not by us" in email.html
    assert "Apple iTunes Store. We can not return the money for such orders" in email.text


def test_a_reviewers_refusal_carries_the_reviewers_reason(claim: ClaimBuilder, policy: Policy) -> None:
    request = refused(pending(claim, policy, traffic=12 * 10**9), note="Your traffic shows the service worked.")
    email = customer_email(EmailKind.DECISION, request, policy)

    assert "- Your traffic shows the service worked." in email.text
    assert "You used 12 GB, not less than 10 GB" in email.text


def test_cancellation_confirms_the_withdrawal(claim: ClaimBuilder, policy: Policy) -> None:
    request = pending(claim, policy).model_copy(update={"status": RequestStatus.CANCELLED})
    email = customer_email(EmailKind.CANCELLATION, request, policy)

    assert email.subject == "Your refund request for order O-1 is cancelled"
    assert "we have withdrawn your request for a refund for order O-1" in email.text
    assert "does not count as a claim" in email.text


def test_reminder_goes_to_the_reviewers_with_request_customer_and_deadline(claim: ClaimBuilder, policy: Policy) -> None:
    request = pending(claim, policy, traffic=12 * 10**9).model_copy(update={"reminded": True})
    email = render(EmailKind.REMINDER, request, policy, STAFF)

    assert email.to == "reviewers@example.com"
    assert email.subject == f"Reminder: refund request {request.request_id} is due by Friday 11 December 2026"
    assert f"Request:  {request.request_id}" in email.text
    assert "Customer: alice" in email.text
    assert "Deadline: Friday 11 December 2026, 23:59 Hong Kong time" in email.text
    assert "Received: Saturday 28 November 2026, 10:15 Hong Kong time" in email.text
    assert "partial refund at the company's discretion (suggested amount" in email.text
    assert "<td>alice</td>" in email.html
    link = f"https://example.com/#/requests/{request.request_id}"
    assert f"Open it:  {link}" in email.text
    assert f'<a href="{link}">' in email.html
    assert "Order:    O-1, US$100.00 paid" in email.text


def test_escalation_goes_to_the_supervisors(claim: ClaimBuilder, policy: Policy) -> None:
    request = pending(claim, policy, traffic=None).model_copy(update={"reminded": True, "overdue": True})
    email = render(EmailKind.ESCALATION, request, policy, STAFF)

    assert email.to == "supervisors@example.com"
    assert email.subject == (
        f"Overdue: refund request {request.request_id} passed its deadline of Friday 11 December 2026"
    )
    assert "passed its deadline of Friday 11 December 2026, 23:59 Hong Kong time without a decision" in email.text
    assert "Customer: alice" in email.text
    assert "needs review" in email.text
    assert f"Open it:  https://example.com/#/requests/{request.request_id}" in email.text


@pytest.mark.parametrize("kind", [EmailKind.ACKNOWLEDGEMENT, EmailKind.CANCELLATION])
def test_a_customer_email_needs_the_customers_address(claim: ClaimBuilder, policy: Policy, kind: EmailKind) -> None:
    with pytest.raises(NoRecipient):
        render(kind, pending(claim, policy), policy, NO_CUSTOMER_ADDRESS)


def test_a_decided_status_without_its_decision_is_an_error(claim: ClaimBuilder, policy: Policy) -> None:
    request = pending(claim, policy).model_copy(update={"status": RequestStatus.APPROVED})
    with pytest.raises(ValueError, match="no decision"):
        render(EmailKind.DECISION, request, policy, STAFF)


def test_mime_message_is_multipart_alternative_text_then_html(claim: ClaimBuilder, policy: Policy) -> None:
    email = render(EmailKind.ACKNOWLEDGEMENT, pending(claim, policy), policy, STAFF)
    message = BytesParser(policy=email_policy.default).parsebytes(mime_message(email, "refunds@example.com"))

    assert message["From"] == "refunds@example.com"
    assert message["To"] == "alice@example.com"
    assert message["Subject"] == email.subject
    assert message.get_content_type() == "multipart/alternative"
    text, html = message.iter_parts()
    assert text.get_content_type() == "text/plain"
    assert html.get_content_type() == "text/html"
    assert text.get_content() == email.text
    assert html.get_content() == email.html


# ---- languages, support, the Control Panel, the apology -----------------------------------------------------

CHINESE = Recipients(
    customer="alice@example.com", reviewers="r@example.com", supervisors="s@example.com", customer_name="陳小明",
    customer_language="zh-HK", support="help@smartsecurity.example", control_panel="https://panel.example/",
)  # fmt: skip
TEMPLATES = Path(__file__).resolve().parents[2] / "layers/refund_core/refund_core/policy/email_templates"


def test_every_customer_email_exists_in_both_languages_with_the_same_placeholders() -> None:
    def placeholders(path: Path) -> set[str]:
        # As string.Template reads them: `$name` or `${name}`, the name in ASCII letters, digits and _.
        return set(re.findall(r"\$\{?([_a-z][_a-z0-9]*)", path.read_text(encoding="utf-8"), re.ASCII | re.IGNORECASE))

    english = {path.name for path in (TEMPLATES / "en").iterdir()}
    chinese = {path.name for path in (TEMPLATES / "zh-HK").iterdir()}
    staff_only = {"reminder.txt", "reminder.html", "escalation.txt", "escalation.html"}
    assert chinese == english - staff_only
    for name in chinese - {"phrases.json"}:
        # A translation adds the one line saying the English policy prevails.
        translated = placeholders(TEMPLATES / "zh-HK" / name) - {"english_prevails"}
        assert translated == placeholders(TEMPLATES / "en" / name), name
    phrases_en = json.loads((TEMPLATES / "en" / "phrases.json").read_text(encoding="utf-8"))
    phrases_zh = json.loads((TEMPLATES / "zh-HK" / "phrases.json").read_text(encoding="utf-8"))
    assert set(phrases_en) <= set(phrases_zh)


@pytest.mark.parametrize("kind", [EmailKind.ACKNOWLEDGEMENT, EmailKind.CANCELLATION, EmailKind.DELAY])
@pytest.mark.parametrize("recipients", [STAFF, CHINESE], ids=["en", "zh-HK"])
def test_every_customer_email_says_how_to_reach_support_and_links_the_control_panel(
    claim: ClaimBuilder, policy: Policy, kind: EmailKind, recipients: Recipients
) -> None:
    email = render(kind, pending(claim, policy), policy, recipients)
    assert recipients.support in email.text
    assert f'href="mailto:{recipients.support}"' in email.html
    assert recipients.control_panel in email.text
    assert f'href="{recipients.control_panel}"' in email.html


def test_a_chinese_customer_gets_their_emails_in_chinese_with_chinese_dates(
    claim: ClaimBuilder, policy: Policy
) -> None:
    request = pending(claim, policy, traffic=12 * 10**9)
    email = render(EmailKind.ACKNOWLEDGEMENT, request, policy, CHINESE)
    assert email.subject == "我們已收到您就訂單 O-1 提出的退款申請"
    assert email.text.splitlines()[0] == "陳小明 您好："
    assert "2026年11月28日（星期六）" in email.text
    assert "2026年12月11日（星期五）" in email.text
    assert '<html lang="zh-Hant-HK">' in email.html
    decided = approved(request, Money.of("50.00", "USD"), RefundType.PARTIAL)
    decision = render(EmailKind.DECISION, decided, policy, CHINESE)
    assert "已獲部分批准" in decision.subject
    assert "退回您付款所用的信用卡" in decision.text
    # The reasons in Chinese, with dates written the Chinese way; once, that the English policy prevails.
    assert "您使用了 12 GB，並不少於 10 GB" in decision.text and "You used" not in decision.text
    assert decision.text.count("(English prevails)") == 1 and decision.html.count("(English prevails)") == 1
    assert "引自英文版" not in decision.text


def test_a_chinese_refusal_gives_each_reason_in_chinese_and_the_reviewers_note_as_written(
    claim: ClaimBuilder, policy: Policy
) -> None:
    request = pending(claim, policy, connections=250, ticket_changes={"official_response": "fixed"})
    email = render(EmailKind.DECISION, refused(request, note="連線次數過多。"), policy, CHINESE)
    assert "您連接了 250 次，超過容許的 100 次。" in email.text
    assert "本公司支援團隊於個案 T-1 表示問題已經解決。" in email.text
    assert "- 連線次數過多。" in email.text
    assert email.text.count("(English prevails)") == 1
    latin = re.findall(r"[A-Za-z]{3,}", email.text.split("Smart Security")[0].replace(CHINESE.support or "", ""))
    assert set(latin) <= {"English", "prevails"}, latin


def test_the_delay_apologises_and_gives_the_new_date_two_working_days_after_the_deadline(
    claim: ClaimBuilder, policy: Policy
) -> None:
    request = pending(claim, policy)  # deadline Friday 11 December 2026
    email = customer_email(EmailKind.DELAY, request, policy)
    assert "we apologise" in email.text
    assert "by Friday 11 December 2026" in email.text
    assert "by Tuesday 15 December 2026 at the latest" in email.text
    assert "2026年12月15日（星期二）" in render(EmailKind.DELAY, request, policy, CHINESE).text


def test_no_control_character_reaches_an_answers_headers() -> None:
    from email import message_from_bytes  # noqa: PLC0415

    email = Email(to="bob@example.com", subject="Re: \x1b[31mred\x00 \x07bell", text="t", html="<p>t</p>",
                  in_reply_to="<a\x00b@x.example>")  # fmt: skip
    message = message_from_bytes(mime_message(email, "refunds@example.com"))
    assert message["Subject"] == "Re: [31mred bell"
    assert message["In-Reply-To"] == "<ab@x.example>"
