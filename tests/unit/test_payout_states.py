"""The payout as a state machine (PAYOUTS.md): who pays it, what each piece of news does in each state, and that
news told twice or out of order changes nothing."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from refund_core.policy.document import shipped_policy
from refund_core.policy.money import Money
from refund_core.policy.payouts import (
    Payout,
    PayoutChange,
    PayoutNotAllowed,
    PayoutRoute,
    PayoutState,
    change,
    route_for,
    scheduled,
)

AT = datetime(2026, 12, 6, 2, 0, tzinfo=UTC)


def payout(channel: str | None = "card", reference: str | None = "pi_1") -> Payout:
    return scheduled(
        request_id="rr_1", order_id="ord-1", username="alice", amount=Money.of("88.15", "USD"),
        payment_channel=channel, payment_reference=reference, policy=shipped_policy(), at=AT,
    )  # fmt: skip


@pytest.mark.parametrize(
    ("channel", "reference", "route"),
    [
        ("card", "pi_1", PayoutRoute.PROCESSOR),
        ("paypal", "CAPTURE-1", PayoutRoute.BILLING),
        ("crypto", "0xabc", PayoutRoute.BILLING),
        ("card", None, PayoutRoute.FINANCE),  # nothing to refund against
        (None, "pi_1", PayoutRoute.FINANCE),  # a channel the records do not know
        ("apple_itunes", "x", PayoutRoute.FINANCE),  # never paid by us
    ],
)
def test_who_pays_is_the_channels_route_or_finance(
    channel: str | None, reference: str | None, route: PayoutRoute
) -> None:
    assert route_for(channel, reference, shipped_policy()) is route
    made = payout(channel, reference)
    assert made.route is route
    assert made.state is (PayoutState.MANUAL if route is PayoutRoute.FINANCE else PayoutState.SCHEDULED)


def test_a_channel_the_policy_routes_nowhere_is_finances() -> None:
    policy = shipped_policy().model_copy(update={"payout_routes": {"card": "processor"}})
    assert route_for("paypal", "CAPTURE-1", policy) is PayoutRoute.FINANCE


def test_sent_then_paid_keeps_the_reference_and_the_dates() -> None:
    sent = change(payout(), PayoutChange.SENT, AT + timedelta(minutes=1), reference="re_1")
    assert sent is not None and (sent.state, sent.reference, sent.version) == (PayoutState.SENT, "re_1", 2)
    paid = change(sent, PayoutChange.PAID, AT + timedelta(hours=2))
    assert paid is not None and (paid.state, paid.reference, paid.sent_at, paid.version) == (
        PayoutState.PAID, "re_1", AT + timedelta(minutes=1), 3
    )  # fmt: skip


def test_news_told_again_or_late_changes_nothing() -> None:
    sent = change(payout(), PayoutChange.SENT, AT, reference="re_1")
    assert sent is not None
    assert change(sent, PayoutChange.SENT, AT, reference="re_1") is None  # a replayed webhook
    paid = change(sent, PayoutChange.PAID, AT)
    assert paid is not None
    assert change(paid, PayoutChange.SENT, AT) is None  # billing's PayoutSent after its PayoutPaid
    assert change(paid, PayoutChange.PAID, AT) is None
    assert change(paid, PayoutChange.FAILED, AT, reason="x") is None


def test_paid_before_sent_is_paid_and_sent() -> None:
    paid = change(payout("paypal", "CAPTURE-1"), PayoutChange.PAID, AT, reference="PP-9")
    assert paid is not None and (paid.state, paid.sent_at, paid.reference) == (PayoutState.PAID, AT, "PP-9")


def test_a_failed_payout_is_sent_again_as_a_new_sending_with_its_own_key() -> None:
    failed = change(payout(), PayoutChange.FAILED, AT, reason="expired_or_canceled_card")
    assert failed is not None and failed.failure_reason == "expired_or_canceled_card"
    again = change(failed, PayoutChange.RETRY, AT)
    assert again is not None and (again.state, again.sending, again.failure_reason) == (PayoutState.SCHEDULED, 2, None)
    assert again.idempotency_key != failed.idempotency_key


@pytest.mark.parametrize(
    ("state", "what"),
    [(PayoutState.PAID, PayoutChange.RETRY), (PayoutState.PAID, PayoutChange.TO_FINANCE),
     (PayoutState.SENT, PayoutChange.TO_FINANCE), (PayoutState.MANUAL, PayoutChange.SENT),
     (PayoutState.MANUAL, PayoutChange.FAILED)],
)  # fmt: skip
def test_a_change_the_state_never_takes_is_refused(state: PayoutState, what: PayoutChange) -> None:
    with pytest.raises(PayoutNotAllowed):
        change(payout().model_copy(update={"state": state}), what, AT)


def applied(start: Payout, changes: list[PayoutChange]) -> Iterator[tuple[Payout, PayoutChange, Payout]]:
    """Each change of `changes` that applies, in turn: the payout before it, the change, the payout after."""
    current = start
    for what in changes:
        try:
            changed = change(current, what, AT, reference="re_1", reason="declined", note="by hand")
        except PayoutNotAllowed:
            continue
        if changed is not None:
            yield current, what, changed
            current = changed


@given(st.lists(st.sampled_from(list(PayoutChange)), max_size=12))
def test_any_sequence_of_news_only_moves_forward_and_bumps_the_version(changes: list[PayoutChange]) -> None:
    """Whatever arrives, in whatever order: a change bumps the version by one, none leaves PAID, and the
    sending only grows."""
    for before, _, changed in applied(payout(), changes):
        assert changed.version == before.version + 1 and changed.sending >= before.sending
        assert before.state is not PayoutState.PAID


def _in(route: PayoutRoute, state: PayoutState) -> Payout:
    channel, reference = {PayoutRoute.PROCESSOR: ("card", "pi_1"), PayoutRoute.BILLING: ("paypal", "CAPTURE-1"),
                          PayoutRoute.FINANCE: ("card", None)}[route]  # fmt: skip
    return payout(channel, reference).model_copy(update={"state": state})


# Finance's hand on a payout: the state it leads to, "done already", or the code it is refused with (None: no
# reason's code, the state never takes it).
@pytest.mark.parametrize(
    ("route", "state", "what", "outcome"),
    [
        (PayoutRoute.PROCESSOR, PayoutState.SCHEDULED, PayoutChange.TO_FINANCE, PayoutState.MANUAL),
        (PayoutRoute.PROCESSOR, PayoutState.SCHEDULED, PayoutChange.MARK_PAID, "with_processor"),
        (PayoutRoute.BILLING, PayoutState.SCHEDULED, PayoutChange.TO_FINANCE, "with_billing"),
        (PayoutRoute.BILLING, PayoutState.SCHEDULED, PayoutChange.MARK_PAID, "with_billing"),
        (PayoutRoute.BILLING, PayoutState.SENT, PayoutChange.MARK_PAID, PayoutState.PAID),  # the bank's statement
        (PayoutRoute.PROCESSOR, PayoutState.SENT, PayoutChange.MARK_PAID, PayoutState.PAID),
        (PayoutRoute.BILLING, PayoutState.SENT, PayoutChange.TO_FINANCE, None),  # sent is sent
        (PayoutRoute.BILLING, PayoutState.FAILED, PayoutChange.TO_FINANCE, PayoutState.MANUAL),
        (PayoutRoute.BILLING, PayoutState.FAILED, PayoutChange.MARK_PAID, PayoutState.PAID),
        (PayoutRoute.PROCESSOR, PayoutState.FAILED, PayoutChange.MARK_PAID, PayoutState.PAID),
        (PayoutRoute.FINANCE, PayoutState.MANUAL, PayoutChange.MARK_PAID, PayoutState.PAID),
        (PayoutRoute.FINANCE, PayoutState.PAID, PayoutChange.MARK_PAID, "done already"),
    ],
)
def test_finance_pays_by_hand_only_what_no_route_is_paying(
    route: PayoutRoute, state: PayoutState, what: PayoutChange, outcome: PayoutState | str | None
) -> None:
    before = _in(route, state)
    if isinstance(outcome, PayoutState):
        changed = change(before, what, AT, reference="HSBC-1", note="by hand")
        assert changed is not None and changed.state is outcome
    elif outcome == "done already":
        assert change(before, what, AT, reference="HSBC-1") is None
    else:
        with pytest.raises(PayoutNotAllowed) as refused:
            change(before, what, AT, reference="HSBC-1", note="by hand")
        assert refused.value.code == outcome


@given(st.sampled_from(["card", "paypal"]), st.lists(st.sampled_from(list(PayoutChange)), max_size=12))
def test_finance_never_marks_paid_a_payout_still_to_send_nor_takes_over_one_billing_was_asked_to_pay(
    channel: str, changes: list[PayoutChange]
) -> None:
    for before, what, _ in applied(payout(channel, "pi_1" if channel == "card" else "CAPTURE-1"), changes):
        if before.state is PayoutState.SCHEDULED:
            assert what is not PayoutChange.MARK_PAID
            assert not (what is PayoutChange.TO_FINANCE and before.route is PayoutRoute.BILLING)


def test_finance_confirming_a_payment_the_route_sent_keeps_the_routes_reference() -> None:
    sent = change(payout(), PayoutChange.SENT, AT, reference="re_1")
    assert sent is not None
    confirmed = change(sent, PayoutChange.MARK_PAID, AT, reference="HSBC-STATEMENT-9")
    assert confirmed is not None and (confirmed.state, confirmed.reference) == (PayoutState.PAID, "re_1")
    manual = change(payout(), PayoutChange.TO_FINANCE, AT, note="by hand")
    assert manual is not None
    paid = change(manual, PayoutChange.MARK_PAID, AT, reference="HSBC-TT-1")
    assert paid is not None and paid.reference == "HSBC-TT-1"
