"""Once a day: the personal data of requests decided or cancelled longer ago than the policy keeps it is erased,
the financial record kept (refund_core.app.retention)."""

from dataclasses import asdict
from datetime import date
from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from refund_core.app.retention import erase_expired_personal_data
from refund_core.observability import observed


@observed()
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    run = asdict(erase_expired_personal_data())
    return {name: value.isoformat() if isinstance(value, date) else value for name, value in run.items()}
