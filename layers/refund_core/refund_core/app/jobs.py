"""What the long jobs share: the supervisors' decisions exports (app/decisions_exports.py) and the policy owners'
simulations (app/policy_simulations.py). Each is asked for through the API, kept as one item moved on under a
condition on its version, and run by a queue's function from where it was kept; its page shows its progress."""

from __future__ import annotations

import secrets
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord

# How often the progress shown is brought up to date while a job reads.
PROGRESS_EVERY = timedelta(seconds=2)
# Past this without news, a job was never run: its queue keeps a message a day (a job that fails says so itself).
STALLED_AFTER = timedelta(days=1)
# The jobs' queues' maxReceiveCount (template.yaml): the last try of a job that fails marks it failed.
JOB_TRIES = 3
# The jobs a page lists.
LISTED_FOR = timedelta(days=7)


def new_job_id(now: datetime) -> str:
    """In the order they are asked for, and not to be guessed."""
    return f"{now.strftime('%Y%m%dT%H%M%S%f')}-{secrets.token_hex(6)}"


@contextmanager
def failed_on_last_try(record: SQSRecord, mark_failed: Callable[[], None]) -> Iterator[None]:
    """One delivery of a job: on its last try, a job that fails is marked failed before the delivery fails."""
    try:
        yield
    except Exception:
        if int(record.attributes.approximate_receive_count) >= JOB_TRIES:
            mark_failed()
        raise
