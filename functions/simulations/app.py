"""The policy simulations' queue: each message a simulation's job to run on from the day it was kept at
(refund_core.app.policy_simulations); a job that fails comes back after the queue's visibility timeout, and the
dead-letter queue keeps one that outlives the queue's tries."""

from typing import Any

from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from aws_lambda_powertools.utilities.typing import LambdaContext

from refund_core.app.policy_simulations import handle_simulation_record
from refund_core.observability import observed

processor = BatchProcessor(event_type=EventType.SQS)


@observed()
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    def run(record: SQSRecord) -> None:
        handle_simulation_record(record, seconds_left=lambda: context.get_remaining_time_in_millis() / 1000)

    return dict(process_partial_response(event=event, record_handler=run, processor=processor, context=context))
