"""The records queue: each message one event of another system about a customer (RECORDS.md), applied to
the customer records on its own (refund_core.app.record_events); a refused event goes to the dead-letter
queue with its reason, a failed one is reported in `batchItemFailures` and retried."""

from typing import Any

from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.typing import LambdaContext

from refund_core.app.record_events import handle_records_message
from refund_core.observability import observed

processor = BatchProcessor(event_type=EventType.SQS)


@observed()
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    response = process_partial_response(
        event=event, record_handler=handle_records_message, processor=processor, context=context
    )
    return dict(response)
