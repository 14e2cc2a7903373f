"""On a schedule: whatever requests still owe past the grace period goes back on the delivery queue, a
delivery that began and never recorded its end is marked uncertain, and once a day the service levels are made
whole (refund_core.app.outbox.reconcile)."""

from dataclasses import asdict
from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from refund_core.app.outbox import reconcile
from refund_core.observability import observed


@observed()
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return asdict(reconcile())
