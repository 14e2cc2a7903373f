"""The RequestsTable stream: each owed effect onto the delivery queue, the review-deadline repair, and each
request that ends counted in the service levels, one record at a time (refund_core.app.notifications); a failed
record is reported in `batchItemFailures` and retried alone."""

from typing import Any

from aws_lambda_powertools.utilities.batch import process_partial_response
from aws_lambda_powertools.utilities.typing import LambdaContext

from refund_core.app.notifications import handle_record, stream_processor
from refund_core.observability import observed


@observed()
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    response = process_partial_response(
        event=event, record_handler=handle_record, processor=stream_processor, context=context
    )
    return dict(response)
