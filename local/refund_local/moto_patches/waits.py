"""Step Functions' Wait, as AWS runs it, for moto's executor: a Wait until a timestamp ends at that moment or
after it. moto sleeps only the whole seconds left (`int()`), so it wakes up to a second early; the review
deadline's own guard (its overdue write is conditional on the deadline being past) would then take the
retry path, and the local stack would run, and bill in `make bench`, transitions AWS never would."""

from __future__ import annotations

import datetime
import math
from typing import Any

from moto.stepfunctions.parser.asl.component.common.error_name.failure_event import FailureEventException
from moto.stepfunctions.parser.asl.component.state.wait.wait_function.timestamp import Timestamp

_PATCHED = "_refund_local_exact"


def _seconds_until(self: Timestamp, env: Any) -> int:
    self.string.eval(env=env)
    text: str = env.stack.pop()
    due = self._from_timestamp_string(timestamp=text)
    if due is None:
        raise FailureEventException(self._create_failure_event(env, text))
    # moto's timestamps are naive, compared with the local clock: the local stack runs in UTC (use_utc).
    return max(0, math.ceil((due - datetime.datetime.now()).total_seconds()))


def make_waits_exact() -> None:
    """Idempotent; process-wide, like moto's own patching."""
    if not getattr(Timestamp._get_wait_seconds, _PATCHED, False):
        setattr(_seconds_until, _PATCHED, True)
        Timestamp._get_wait_seconds = _seconds_until  # type: ignore[method-assign]
