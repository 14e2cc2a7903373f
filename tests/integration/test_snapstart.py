"""SnapStart (refund_core/snapstart.py): each API function primes every one of its routes before the snapshot,
changing nothing and counting nothing; after a restore its clients open new connections and copies of one
snapshot draw different random numbers. Lambda runs these hooks; here the test runs them, against moto."""

from __future__ import annotations

import random
from collections import Counter

import pytest
from api_support import call, requests_table_items, seed_order
from snapshot_restore_py import get_after_restore, get_before_snapshot

from refund_core import snapstart
from refund_core.adapters import clients
from refund_core.observability import metrics
from refund_local.events import api_event, claims_for
from refund_local.handlers import load_module
from refund_local.provision import api_routes, load_template
from refund_local.stack import LocalAws

ROUTES_OF = Counter(route.code_uri for route in api_routes(load_template()))


@pytest.mark.parametrize("code_uri", sorted(ROUTES_OF))
def test_priming_resolves_every_route_of_the_function_and_changes_nothing(stack: LocalAws, code_uri: str) -> None:
    module = load_module(code_uri)
    registered = [(hook, args) for hook, args, _ in get_before_snapshot()]
    assert (snapstart.prime, (module.app,)) in registered
    assert (snapstart.renew_after_restore, ()) in [(hook, args) for hook, args, _ in get_after_restore()]
    assert len(snapstart.priming_events(module.app)) == ROUTES_OF[code_uri]

    before = requests_table_items()
    snapstart.prime(module.app, reads_policy=code_uri != "functions/webhooks/")
    assert requests_table_items() == before
    assert metrics.metric_set == {}  # a refused webhook signature while priming is no one's


def test_after_a_restore_the_clients_keep_their_models_with_new_connections_and_copies_draw_different_numbers(
    stack: LocalAws,
) -> None:
    snapstart.prime(load_module("functions/submit/").app, reads_policy=True)
    primed = clients.dynamodb()
    # A connection of the snapshot: its pool is what a restored copy must not use.
    connections = primed._endpoint.http_session._manager
    connections.connection_from_url("https://dynamodb.ap-southeast-1.amazonaws.com")
    assert len(connections.pools) == 1
    state = random.getstate()
    snapstart.renew_after_restore()
    first_copy = random.random()
    random.setstate(state)
    snapstart.renew_after_restore()
    assert random.random() != first_copy
    assert clients.dynamodb() is primed  # its service model kept: making it again costs 10 ms
    assert len(connections.pools) == 0

    seed_order("ord-snap", "snap", days_ago=3)
    body = {"orderId": "ord-snap", "reason": "Too slow for me.", "supportTicketId": "T-ord-snap"}
    filed = call(api_event("POST", "/refund-requests", "/refund-requests", body=body, claims=claims_for("snap")))
    assert filed.status == 201, filed.json
