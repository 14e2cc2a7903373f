"""A customer's personal data in one file (the Personal Data (Privacy) Ordinance's data access request): the
customer downloads their own; a supervisor downloads a named customer's to answer one made in writing. Both get
what the customer sees, read through the same service functions as the Control Panel's pages."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime

from refund_core.adapters import customer_records, request_reads
from refund_core.adapters.dynamo import Page
from refund_core.adapters.request_reads import RequestFilter
from refund_core.app import service
from refund_core.app.resources import OrderList, OrderResource, PersonalData, PersonalProfile
from refund_core.errors import NotASupervisor
from refund_core.http.identity import Caller

PAGE_SIZE = 100


def personal_data(caller: Caller, username: str | None = None) -> PersonalData:
    """The caller's own data, or (a supervisor) `username`'s; a customer the service knows nothing of gets
    empty lists, as anyone would who asked."""
    subject = username or caller.username
    if subject != caller.username and not caller.is_supervisor:
        raise NotASupervisor("only refund supervisors may download another customer's data", field="username")
    # Read as the customer: the pages they would see, and nothing staff alone see.
    customer = Caller(username=subject, email=None, groups=frozenset())
    mine = RequestFilter(username=subject)
    profile = customer_records.customer_profile(subject)
    orders = tuple(_every(lambda token: _order_page(customer, token)))
    listed = _every(lambda token: request_reads.list_requests(narrowed=mine, limit=PAGE_SIZE, next_token=token))
    # Each request read again whole, as the customer sees it (a list's item comes from an index, which may be a
    # moment behind).
    requests = sorted(
        (service.read_refund_request(customer, listed_request.request_id) for listed_request in listed),
        key=lambda request: request.received_at,
    )
    return PersonalData(
        username=subject,
        generated_at=datetime.now(UTC),
        profile=PersonalProfile.of(profile) if profile else None,
        orders=orders,
        refund_requests=tuple(requests),
    )


def _order_page(customer: Caller, token: str | None) -> Page[OrderResource]:
    page: OrderList = service.list_orders(customer, PAGE_SIZE, token)
    return Page(items=page.items, next_token=page.next_token)


def _every[Item](page_of: Callable[[str | None], Page[Item]]) -> Iterator[Item]:
    token: str | None = None
    while True:
        page = page_of(token)
        yield from page.items
        token = page.next_token
        if token is None:
            return
