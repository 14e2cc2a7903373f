"""Starts the review-deadline state machine for a pending request (execution name = request id), and stops it
once the request no longer awaits a decision."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

from botocore.exceptions import BotoCoreError, ClientError

from refund_core.adapters import clients
from refund_core.policy.models import RefundRequest
from refund_core.settings import settings


def wait_timestamp(moment: datetime) -> str:
    """Whole seconds in UTC ending in `Z` (what Wait states read), rounded up so that the workflow
    never acts before the moment itself."""
    utc = moment.astimezone(UTC)
    if utc.microsecond:
        utc = utc.replace(microsecond=0) + timedelta(seconds=1)
    return utc.strftime("%Y-%m-%dT%H:%M:%SZ")


def workflow_input(request: RefundRequest) -> dict[str, str | int]:
    return {
        "requestId": request.request_id,
        "reminderAt": wait_timestamp(request.reminder_at),
        "deadline": wait_timestamp(request.deadline),
        "tries": 0,
    }


class WorkflowNotStarted(RuntimeError):
    """Step Functions could not be reached or refused the start (not: the execution exists already)."""


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
            raise WorkflowNotStarted(error.response["Error"]["Code"]) from error
    except BotoCoreError as error:
        raise WorkflowNotStarted(type(error).__name__) from error


def _execution_arn(request_id: str) -> str:
    # Step Functions' documented form: the state machine's ARN with `execution` for `stateMachine`, then the name.
    state_machine_arn = settings().review_deadline_state_machine_arn
    return f"{state_machine_arn.replace(':stateMachine:', ':execution:', 1)}:{request_id}"


class WorkflowNotStopped(RuntimeError):
    """Step Functions could not be reached or refused the stop."""


def stop_review_deadline(request_id: str) -> None:
    """Stop tracking the deadline of a request decided or cancelled. Only an economy: a running execution finds
    the request no longer pending at its next step and ends there, at the cost of a few more state transitions."""
    try:
        clients.stepfunctions().stop_execution(executionArn=_execution_arn(request_id))
    except ClientError as error:
        raise WorkflowNotStopped(error.response["Error"]["Code"]) from error
    except BotoCoreError as error:
        raise WorkflowNotStopped(type(error).__name__) from error
