"""Idempotent submission with Powertools: the same `Idempotency-Key` and body within 24 h returns the first
answer and records nothing new; the same key with another body is refused. (What a request owes, emails and
events, is done once by refund_core.app.outbox, with a lease on each owed item.)"""

from __future__ import annotations

import time
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

from refund_core.adapters import clients
from refund_core.app import claims
from refund_core.app.inputs import SubmitRefundRequest
from refund_core.app.resources import RefundRequestResource
from refund_core.errors import Conflict, StillInProgress
from refund_core.http.identity import Caller
from refund_core.settings import settings

ONE_DAY = 24 * 60 * 60
# How long a second call with the key of one still being answered waits for that answer before a 409.
FIRST_ANSWER_WAIT_SECONDS = 5.0
_POLL_SECONDS = 0.25

_SUBMISSIONS = IdempotencyConfig(
    event_key_jmespath="[username, idempotencyKey]",
    payload_validation_jmespath="body",
    expires_after_seconds=ONE_DAY,
)


def register_lambda_context(context: Any) -> None:
    """Lets an in-progress record expire with the invocation, so that a crashed attempt can be retried."""
    _SUBMISSIONS.register_lambda_context(context)


def persistence() -> DynamoDBPersistenceLayer:
    # Made on first use: the table's name comes from the settings.
    return DynamoDBPersistenceLayer(table_name=settings().idempotency_table_name, boto3_client=clients.dynamodb())


@cache
def _idempotent_submit() -> Callable[..., dict[str, Any]]:
    def submit(submission: dict[str, Any]) -> dict[str, Any]:
        caller = Caller.model_validate(submission["caller"])
        command = SubmitRefundRequest.model_validate(submission["body"])
        return claims.submit_refund_request(caller, command).model_dump(mode="json", by_alias=True)

    idempotent: Callable[..., dict[str, Any]] = idempotent_function(
        data_keyword_argument="submission", persistence_store=persistence(), config=_SUBMISSIONS
    )(submit)
    return idempotent


def submit_refund_request_once(
    caller: Caller, command: SubmitRefundRequest, idempotency_key: str | None
) -> RefundRequestResource:
    if idempotency_key is None:
        return claims.submit_refund_request(caller, command)
    submission = {
        "username": caller.username,
        "idempotencyKey": idempotency_key,
        "caller": caller.model_dump(mode="json"),
        "body": command.model_dump(mode="json", by_alias=True),
    }
    waited = 0.0
    while True:
        try:
            return RefundRequestResource.model_validate(_idempotent_submit()(submission=submission))
        except IdempotencyValidationError as error:
            raise Conflict(
                "this Idempotency-Key was already used with a different body", field="Idempotency-Key"
            ) from error
        except IdempotencyAlreadyInProgressError as error:
            # The first call is being answered (a double click, a retry on a slow network): its answer is this
            # one's too (API.md), so wait for it a little, then say when to ask again.
            if waited >= FIRST_ANSWER_WAIT_SECONDS:
                raise StillInProgress(
                    "the first request with this Idempotency-Key is still being answered; send it again to get "
                    "its answer",
                    field="Idempotency-Key",
                ) from error
            time.sleep(_POLL_SECONDS)
            waited += _POLL_SECONDS


def reset() -> None:
    """Forget the idempotent wrappers (tests and the local runner start a fresh emulated AWS)."""
    _idempotent_submit.cache_clear()
