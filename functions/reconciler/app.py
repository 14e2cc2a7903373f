"""On a schedule: whatever requests still owe past the grace period goes back on the delivery queue, a
delivery that began and never recorded its end is marked uncertain, and once a day the service levels are made
whole (refund_core.app.outbox.reconcile). Invoked by an operator with `{"recountServiceLevels": {"from", "to"}}`:
the service levels of that period made whole (refund_core.app.service_levels.backfill; docs/operations.md)."""

from dataclasses import asdict
from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from refund_core.app.inputs import Period
from refund_core.app.outbox import reconcile
from refund_core.app.service_levels import backfill
from refund_core.observability import observed


@observed()
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    if "recountServiceLevels" in event:
        period = Period.model_validate(event["recountServiceLevels"])
        done = backfill(period, seconds_left=lambda: context.get_remaining_time_in_millis() / 1000)
        return done.model_dump(mode="json", by_alias=True)
    return asdict(reconcile())
