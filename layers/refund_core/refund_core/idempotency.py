"""Idempotent submission with Powertools: the same `Idempotency-Key` and body within 24 h returns the
first answer and records nothing new; the same key with another body is refused."""

from __future__ import annotations

from collections.abc import Callable
from functools import cache
from typing import Any

from aws_lambda_powertools.utilities.idempotency import (
    DynamoDBPersistenceLayer,
    IdempotencyConfig,
    idempotent_function,
)
from aws_lambda_powertools.utilities.idempotency.exceptions import (
    IdempotencyAlreadyInProgressError,
    IdempotencyValidationError,
)

from refund_core import clients, service
from refund_core.commands import SubmitRefundRequest
from refund_core.errors import Conflict
from refund_core.identity import Caller
from refund_core.models import RefundRequest
from refund_core.settings import settings

ONE_DAY = 24 * 60 * 60


_CONFIG = IdempotencyConfig(
    event_key_jmespath="[username, idempotencyKey]",
    payload_validation_jmespath="body",
    expires_after_seconds=ONE_DAY,
)


def register_lambda_context(context: Any) -> None:
    """Lets an in-progress record expire with the invocation, so a crashed attempt can be retried."""
    _CONFIG.register_lambda_context(context)


@cache
def _idempotent_submit() -> Callable[..., dict[str, Any]]:
    # Built on first use: the persistence layer needs the table name from the settings.
    persistence = DynamoDBPersistenceLayer(
        table_name=settings().idempotency_table_name, boto3_client=clients.dynamodb()
    )

    def submit(submission: dict[str, Any]) -> dict[str, Any]:
        caller = Caller.model_validate(submission["caller"])
        command = SubmitRefundRequest.model_validate(submission["body"])
        return service.submit_refund_request(caller, command).model_dump(mode="json", by_alias=True)

    idempotent: Callable[..., dict[str, Any]] = idempotent_function(
        data_keyword_argument="submission", persistence_store=persistence, config=_CONFIG
    )(submit)
    return idempotent


def submit_refund_request_once(
    caller: Caller, command: SubmitRefundRequest, idempotency_key: str | None
) -> RefundRequest:
    if idempotency_key is None:
        return service.submit_refund_request(caller, command)
    submission = {
        "username": caller.username,
        "idempotencyKey": idempotency_key,
        "caller": caller.model_dump(mode="json"),
        "body": command.model_dump(mode="json", by_alias=True),
    }
    try:
        return RefundRequest.model_validate(_idempotent_submit()(submission=submission))
    except IdempotencyValidationError as error:
        raise Conflict(
            "this Idempotency-Key was already used with a different body", field="Idempotency-Key"
        ) from error
    except IdempotencyAlreadyInProgressError as error:
        raise Conflict(
            "a request with this Idempotency-Key is still being processed; retry shortly", field="Idempotency-Key"
        ) from error


def reset() -> None:
    _idempotent_submit.cache_clear()
