"""SnapStart (template.yaml: `SnapStart: ApplyOn: PublishedVersions`). Lambda runs a function's init once when
a version is published, snapshots its memory, and starts every later cold environment from a copy of it.

Before the snapshot, the work of a first call that holds no one's data is done once (`prepare_snapshot`):
the settings, every AWS client (each loads its service's model), the X-Ray tracer when tracing is on, the
published policy, and every route of the API resolved once with a caller who is not signed in (Powertools
builds each route's validation on its first request; the answer is a 401 or 400, and nothing is written).
After each restore, what must not outlive the snapshot or be shared between its copies is renewed: every
client's connections are closed (the snapshot's sockets lead nowhere; each client opens new ones at its next
call), and `random` is reseeded (the retries' jitter would be the same in every copy). Priming calls no card
processor, so its client and key are first made after the restore. The clients' AWS credentials need nothing:
a SnapStart function's SDK gets them from Lambda's container credentials endpoint, and refreshes them. The
policy read before the snapshot is kept as any read of it is, for `PolicyCacheSeconds`: a copy restored later
reads it again on its first call. Ids and idempotency tokens come from `secrets`, which reads the OS's entropy
on every call and needs nothing.

Outside Lambda (the tests, the local runner) the hooks are registered and never run, unless a test runs them."""

from __future__ import annotations

import json
import random
import re
from typing import Any, cast

from aws_lambda_powertools.event_handler import APIGatewayRestResolver
from aws_lambda_powertools.utilities.typing import LambdaContext
from snapshot_restore_py import register_after_restore, register_before_snapshot

from refund_core.adapters import clients, policy_store
from refund_core.observability import logger, metrics, tracer, tracing_enabled
from refund_core.settings import settings

_PATH_PARAMETER = re.compile(r"\{(\w+)\}")


class _PrimingContext:
    """The Lambda context a resolver reads during priming (the snapshot's init has no invocation)."""

    function_name = "snapstart-priming"
    memory_limit_in_mb = 512
    invoked_function_arn = "arn:aws:lambda:::function:snapstart-priming"
    aws_request_id = "snapstart-priming"

    @staticmethod
    def get_remaining_time_in_millis() -> int:
        return 10_000


def prepare_snapshot(app: APIGatewayRestResolver | None = None, *, reads_policy: bool = False) -> None:
    """Registers this function's priming (its `app`'s routes; the policy when its role may read it) and the
    after-restore renewal. Called once, at the end of the function's module."""
    register_before_snapshot(prime, app, reads_policy=reads_policy)
    register_after_restore(renew_after_restore)


def prime(app: APIGatewayRestResolver | None, *, reads_policy: bool) -> None:
    warm_ups: list[Any] = [settings, clients.make_all]
    if tracing_enabled():
        warm_ups.append(tracer)
    if reads_policy:
        warm_ups.append(policy_store.published_versions)
    for warm_up in warm_ups:
        try:
            warm_up()
        except Exception:  # priming only saves time: a failure must not stop the version's publication
            logger.warning("SnapStart priming: %s failed; the first call will do it", warm_up.__name__, exc_info=True)
    if app is not None:
        for event in priming_events(app):
            app.resolve(event, cast(LambdaContext, _PrimingContext()))
    # What priming measured (a refused webhook's signature, say) happened to no one.
    metrics.clear_metrics()


def priming_events(app: APIGatewayRestResolver) -> list[dict[str, Any]]:
    """One request per route of `app`, from no signed-in caller, with an empty JSON object as its body."""
    events = []
    for path, operations in (app.get_openapi_schema().paths or {}).items():
        for method in ("get", "put", "post", "delete"):
            if getattr(operations, method, None) is None:
                continue
            names = _PATH_PARAMETER.findall(path)
            events.append(
                {
                    "resource": path,
                    "path": _PATH_PARAMETER.sub("snapstart-priming", path),
                    "httpMethod": method.upper(),
                    "headers": {"Content-Type": "application/json"},
                    "multiValueHeaders": {"Content-Type": ["application/json"]},
                    "queryStringParameters": None,
                    "multiValueQueryStringParameters": None,
                    "pathParameters": dict.fromkeys(names, "snapstart-priming") or None,
                    "requestContext": {"stage": "v1", "requestId": "snapstart-priming", "authorizer": {}},
                    "body": json.dumps({}),
                    "isBase64Encoded": False,
                }
            )
    return events


def renew_after_restore() -> None:
    clients.close_connections()
    random.seed()
