"""The decisions exports' queue: each message an export's job to run on from where it was kept
(refund_core.app.decisions_exports)."""

from refund_core.app.decisions_exports import handle_export_record
from refund_core.app.jobs import queue_handler

lambda_handler = queue_handler(handle_export_record)
