"""Starts the review-deadline state machine for a pending request (execution name = request id)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

from botocore.exceptions import ClientError

from refund_core import clients
from refund_core.models import RefundRequest
from refund_core.settings import settings


def wait_timestamp(moment: datetime) -> str:
    """Whole seconds in UTC ending in `Z` (what Wait states read), rounded up so that the workflow
    never acts before the moment itself."""
    utc = moment.astimezone(UTC)
    if utc.microsecond:
        utc = utc.replace(microsecond=0) + timedelta(seconds=1)
    return utc.strftime("%Y-%m-%dT%H:%M:%SZ")


def workflow_input(request: RefundRequest) -> dict[str, str]:
    return {
        "requestId": request.request_id,
        "reminderAt": wait_timestamp(request.reminder_at),
        "deadline": wait_timestamp(request.deadline),
    }


def start_review_deadline(request: RefundRequest) -> None:
    """Start tracking the deadline. Starting twice is harmless: the name is the request id, and Step
    Functions refuses a second execution of that name."""
    try:
        clients.stepfunctions().start_execution(
            stateMachineArn=settings().review_deadline_state_machine_arn,
            name=request.request_id,
            input=json.dumps(workflow_input(request)),
        )
    except ClientError as error:
        if error.response["Error"]["Code"] != "ExecutionAlreadyExists":
            raise
