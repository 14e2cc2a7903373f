"""The letters queue: each message SES's notification that a letter to the refunds address is stored
(LETTERS.md), answered on its own (refund_core.app.letters): a request filed, the one reply, or nothing for a
forged sender; a failure of AWS is reported in `batchItemFailures` and the letter delivered again."""

from typing import Any

from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.typing import LambdaContext

from refund_core.app.letters import handle_letters_message, register_lambda_context
from refund_core.observability import observed

processor = BatchProcessor(event_type=EventType.SQS)


@observed()
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    register_lambda_context(context)
    response = process_partial_response(
        event=event, record_handler=handle_letters_message, processor=processor, context=context
    )
    return dict(response)
