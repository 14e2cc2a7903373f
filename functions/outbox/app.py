"""The delivery queue: each message one owed effect of a request (an email of a kind, RefundDecided), done
once (refund_core.app.outbox); a failed one is reported in `batchItemFailures` and comes back after its
backoff, and the dead-letter queue keeps what outlives the queue's tries."""

from typing import Any

from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.typing import LambdaContext

from refund_core.app.outbox import handle_delivery_record
from refund_core.observability import observed

processor = BatchProcessor(event_type=EventType.SQS)


@observed()
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    response = process_partial_response(
        event=event, record_handler=handle_delivery_record, processor=processor, context=context
    )
    return dict(response)
