"""The demo data set `refund-local serve` loads without --seed: one customer per outcome, dated relative
to today, written in the seed file's own format (so it also shows that format) and loaded the same way."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from refund_core.policy.models import utc_iso
from refund_local.seed import Seed, parse_seed

REVIEWER = "rita"
GB = 1_000_000_000
# What the rules suggest for bob's claim: 99.00 less 40 of the order's 365 days (99 × 40 / 365 = 10.849...),
# rounded down; the tour's reviewer approves it.
BOB_SUGGESTED_AMOUNT = "88.15"


@dataclass(frozen=True)
class DemoClaim:
    """What a customer of the demo can submit, and what the service will make of it."""

    username: str
    order_id: str
    ticket_id: str
    outcome: str  # the assessment's outcome
    status: str  # the request's status right after submission
    why: str
    language: str | None = None  # their language of record: None is English
    name: str | None = None


DEMO_CLAIMS = (
    DemoClaim("alice", "ord-1001", "T-1001", "FULL_REFUND", "APPROVED", "every rule passes: decided at once", name="Alice Wong"),
    DemoClaim("bob", "ord-2001", "T-2001", "PARTIAL_REFUND", "PENDING", "ordered 40 days ago: a reviewer decides", name="Bob Lam"),
    DemoClaim("carol", "ord-3001", "T-3001", "REFUSED", "REFUSED", "App Store payment, 250 connections", name="Carol Ho"),
    DemoClaim("dave", "ord-4001", "T-4040", "NEEDS_REVIEW", "PENDING", "support has no ticket T-4040", name="Dave Chan"),
    DemoClaim("erin", "ord-5001", "T-5001", "NEEDS_REVIEW", "PENDING", "no usage records yet; for the cancel tour", name="Erin Lau"),
    DemoClaim(
        "mei", "ord-6001", "T-6001", "REFUSED", "REFUSED", "250 connections; reads 繁體中文: her emails are in Chinese",
        language="zh-HK", name="陳美玲",
    ),
    DemoClaim("lee", "ord-7001", "T-7001", "FULL_REFUND", "APPROVED", "writes a letter (the README's letter example)", name="Lee Cheung"),
)  # fmt: skip


def _order(
    order_id: str, username: str, ordered_at: datetime, amount: str, channel: str, **usage: int
) -> dict[str, Any]:
    return {
        "orderId": order_id,
        "username": username,
        "orderedAt": utc_iso(ordered_at),
        "amount": amount,
        "currency": "USD",
        "paymentChannel": channel,
        "kind": "new",
        "servicePeriodDays": 365,
        "paymentState": "settled",
        **usage,
    }


def _ticket(ticket_id: str, username: str, opened_at: datetime) -> dict[str, Any]:
    return {
        "ticketId": ticket_id,
        "username": username,
        "openedAt": utc_iso(opened_at),
        "category": "technical",
        "officialResponse": "cannot_fix",
    }


def demo_seed_document(now: datetime) -> dict[str, Any]:
    day = timedelta(days=1)
    customers: list[dict[str, str]] = []
    for claim in DEMO_CLAIMS:
        entry = {"username": claim.username, "email": f"{claim.username}@example.com"}
        if claim.name:
            entry["name"] = claim.name
        if claim.language:
            entry["language"] = claim.language
        customers.append(entry)
    return {
        "customers": customers,
        "orders": [
            _order("ord-1001", "alice", now - 5 * day, "59.99", "card", trafficBytes=1 * GB, connections=12),
            _order("ord-2001", "bob", now - 40 * day, "99.00", "card", trafficBytes=3 * GB, connections=20),
            _order("ord-3001", "carol", now - 10 * day, "49.99", "apple_itunes", trafficBytes=2 * GB, connections=250),
            _order("ord-4001", "dave", now - 7 * day, "59.99", "paypal", trafficBytes=GB // 2, connections=5),
            # No trafficBytes, no connections: the usage records do not know them yet.
            _order("ord-5001", "erin", now - 12 * day, "39.99", "card"),
            _order("ord-6001", "mei", now - 8 * day, "59.99", "card", trafficBytes=2 * GB, connections=250),
            _order("ord-7001", "lee", now - 20 * day, "79.00", "card", trafficBytes=4 * GB, connections=8),
        ],
        "tickets": [
            _ticket("T-1001", "alice", now - 2 * day),
            _ticket("T-2001", "bob", now - 3 * day),
            _ticket("T-3001", "carol", now - 2 * day),
            _ticket("T-5001", "erin", now - 4 * day),
            _ticket("T-6001", "mei", now - 2 * day),
            _ticket("T-7001", "lee", now - 1 * day),
        ],
    }


def demo_seed(now: datetime) -> Seed:
    return parse_seed(demo_seed_document(now), "demo data")


def quick_tour(base: str) -> list[str]:
    """The quick tour's shell lines, as the README and docs/local-runner.md show them and `serve` prints them:
    bob's partial claim approved for its suggested amount, erin's claim withdrawn, the emails. Needs curl and
    jq; each token is made where it is first used."""
    refund_local = ".venv/bin/refund-local"
    submit = (
        'curl -s -X POST $B/refund-requests -H "Authorization: Bearer $TOKEN_{user}" -H "Content-Type: application/json" '
        '-d \'{{"orderId": "{order}", "reason": "The VPN drops every few minutes", '
        '"supportTicketId": "{ticket}"}}\' | jq -r .requestId'
    )
    read_bob = 'curl -s $B/refund-requests/$RID -H "Authorization: Bearer $TOKEN_BOB"'
    until = f"until {read_bob} | jq -e"
    approval = f'{{"action": "approve", "amount": "{BOB_SUGGESTED_AMOUNT}", "note": "99.00 less 40 of the 365 days of service"}}'
    return [
        f"B={base}",
        "# bob files a claim 40 days after his order: a partial refund, left for a reviewer",
        f"export TOKEN_BOB=$({refund_local} token bob)",
        f"RID=$({submit.format(user='BOB', order='ord-2001', ticket='T-2001')})",
        'curl -s $B/refund-requests/$RID -H "Authorization: Bearer $TOKEN_BOB" | jq -c \'{status, outcome: '
        ".assessment.outcome, suggested: .assessment.suggestedAmount}'",
        "# rita, a reviewer, finds it in her queue and approves the suggested amount",
        f"export TOKEN_RITA=$({refund_local} token {REVIEWER} --reviewer)",
        'curl -s "$B/refund-requests?status=PENDING" -H "Authorization: Bearer $TOKEN_RITA" | jq -c \'.items[] | '
        "{requestId, username, deadline}'",
        'curl -s -X POST $B/refund-requests/$RID/evaluate -H "Authorization: Bearer $TOKEN_RITA" '
        f"-H \"Content-Type: application/json\" -d '{approval}' | jq -c .decision",
        "# the money goes back: the refund is sent at the card processor (localstripe here), then paid",
        f"{until} '.payout.state != \"SCHEDULED\"' >/dev/null; do sleep 1; done",
        f"{read_bob} | jq -c '.payout | {{state, reference, sentAt}}'",
        f"{until} '.payout.state == \"PAID\"' >/dev/null; do sleep 2; done",
        f"{read_bob} | jq -c '.payout | {{state, reference, paidAt}}'",
        "# erin files a claim and withdraws it",
        f"export TOKEN_ERIN=$({refund_local} token erin)",
        f"CANCEL_RID=$({submit.format(user='ERIN', order='ord-5001', ticket='T-5001')})",
        'curl -s -X POST $B/refund-requests/$CANCEL_RID/cancel -H "Authorization: Bearer $TOKEN_ERIN" | jq .status',
        "# every email sent so far (each one's HTML at its htmlUrl)",
        "curl -s $B/_local/outbox | jq -c '.messages[] | {to, subject, htmlUrl}'",
    ]
