"""A policy change without a deploy, over HTTP against `refund-local serve`: the policy owner saves a draft,
simulates it and publishes it now; every function (each in its own worker process, each with its own cache of
the versions) assesses new requests under it from the moment it takes effect, and old requests keep theirs."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from e2e_support import REVIEWER, Server, customer, order, running_server, ticket

from refund_local.events import claims_for
from refund_local.tokens import make_token

pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("e2e-policy")]

SEED: dict[str, Any] = {
    "customers": [customer(name) for name in ("amy", "bob")],
    "orders": [order("A-20", "amy", days_ago=20), order("B-20", "bob", days_ago=20)],
    "tickets": [ticket(f"T-{name}", name) for name in ("amy", "bob")],
}
OWNER = {"Authorization": f"Bearer {make_token(claims_for('olive', policy_owner=True))}"}


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    with running_server(tmp_path_factory.mktemp("policy"), SEED) as running:
        yield running


def test_a_version_published_now_applies_to_the_next_request_and_not_to_the_last(server: Server) -> None:
    before = server.submit("amy", "A-20", "T-amy").json()
    assert (before["status"], before["assessment"]["outcome"]) == ("APPROVED", "FULL_REFUND")
    shipped = server.call("GET", "/policy", headers=OWNER).json()["inForce"]
    assert shipped["version"] == before["assessment"]["policyVersion"]

    fortnight = shipped["document"] | {"version": "2027-01-01.1", "claimWindowDays": 14}
    saved = server.call("PUT", "/policy/drafts/2027-01-01.1", headers=OWNER, json=fortnight)
    assert saved.status_code == 200, saved.text
    today = datetime.now(UTC).date()
    simulated = server.call(
        "POST",
        "/policy/drafts/2027-01-01.1/simulate",
        headers=OWNER,
        json={"from": str(today - timedelta(days=2)), "to": str(today + timedelta(days=1))},
    ).json()
    assert [change["requestId"] for change in simulated["changed"]] == [before["requestId"]]

    published = server.call(
        "POST",
        "/policy/drafts/2027-01-01.1/publish",
        headers=OWNER,
        json={"effectiveFrom": datetime.now(UTC).isoformat()},
    )
    assert published.status_code == 200, published.text
    effective = datetime.fromisoformat(published.json()["effectiveFrom"])
    # The local runner's functions cache the versions for 2 s (PolicyCacheSeconds): in effect by then.
    assert effective <= datetime.now(UTC) + timedelta(seconds=3)
    time.sleep(max(0.0, (effective - datetime.now(UTC)).total_seconds()) + 0.1)

    after = server.submit("bob", "B-20", "T-bob").json()
    assert after["assessment"]["policyVersion"] == "2027-01-01.1"
    assert (after["status"], after["assessment"]["outcome"]) == ("PENDING", "PARTIAL_REFUND")
    assert server.read(before["requestId"], REVIEWER).json()["assessment"]["policyVersion"] == shipped["version"]

    versions = server.call("GET", "/policy", headers=OWNER).json()
    assert versions["inForce"]["version"] == "2027-01-01.1"
    assert [version["version"] for version in versions["earlier"]] == [shipped["version"]]
