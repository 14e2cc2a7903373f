"""Logger, Metrics and Tracer for every function, made once. Tracer is imported only when a handler is
traced inside Lambda (at its first invocation, or by SnapStart's priming): its import (aws_xray_sdk) costs about
200 ms of cold start.

Logs never hold a full email address: the formatter masks every address in a record (message, extra keys,
exception text) as `a***@example.com`. Logs are kept and read more widely than the requests table, and a
customer's address can reach them in ways no code review sees (an AWS error message quoting a recipient,
an exception's text). Nothing logs a request body or a whole event: `inject_lambda_context` is used without
`log_event`, and the template does not set POWERTOOLS_LOGGER_LOG_EVENT (tests/integration/test_log_redaction.py)."""

from __future__ import annotations

import functools
import os
import re
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.logging.formatter import LambdaPowertoolsFormatter
from aws_lambda_powertools.logging.types import LogRecord
from aws_lambda_powertools.metrics import MetricUnit

if TYPE_CHECKING:
    from aws_lambda_powertools import Tracer

SERVICE = "refunds"
METRICS_NAMESPACE = "SmartSecurity/Refunds"

# The characters addresses use in practice (RFC 5322 allows more): a rarer one before the `@` stays in view,
# everything after it up to the `@` is masked all the same.
_EMAIL = re.compile(r"([\w.%+'-])[\w.%+'-]*@([\w-]+(?:\.[\w-]+)+)")
_SCALARS = (bool, int, float, type(None))


def redact(text: str) -> str:
    """Every email address in `text` masked to its first character and its domain: `a***@example.com`."""
    return _EMAIL.sub(r"\1***@\2", text)


class RedactingFormatter(LambdaPowertoolsFormatter):
    """Powertools' JSON formatter, with every string of the record redacted just before it is written."""

    def serialize(self, log: LogRecord) -> str:
        redacted: LogRecord = self._redacted(log)
        return super().serialize(redacted)

    def _redacted(self, value: Any) -> Any:
        if isinstance(value, str):
            return redact(value)
        if isinstance(value, _SCALARS):
            return value
        if isinstance(value, Mapping):
            return {redact(str(key)): self._redacted(item) for key, item in value.items()}
        if isinstance(value, list | tuple | set | frozenset):
            return [self._redacted(item) for item in value]
        # What the serializer would have written for it (`str` by default), redacted.
        return redact(str(self.json_default(value)))


# The template sets POWERTOOLS_SERVICE_NAME and POWERTOOLS_METRICS_NAMESPACE, which win; the defaults
# serve processes that import the layer before they set their environment (the local runner, scripts).
logger = Logger(service=os.environ.get("POWERTOOLS_SERVICE_NAME", SERVICE), logger_formatter=RedactingFormatter())
metrics = Metrics(namespace=os.environ.get("POWERTOOLS_METRICS_NAMESPACE", METRICS_NAMESPACE))

Handler = Callable[[dict[str, Any], Any], dict[str, Any]]


def tracing_enabled() -> bool:
    disabled = os.environ.get("POWERTOOLS_TRACE_DISABLED", "").lower() in {"1", "true"}
    return bool(os.environ.get("AWS_LAMBDA_FUNCTION_NAME")) and not disabled


@functools.cache
def tracer() -> Tracer:
    """Made at the first traced invocation, or by SnapStart's priming before the snapshot."""
    from aws_lambda_powertools import Tracer  # noqa: PLC0415 - deliberately lazy

    # Only botocore: every call out of a function is an AWS call. Patching all that the X-Ray SDK can
    # (requests, httplib, sqlite3...) imported them: about 40 ms of the first invocation.
    return Tracer(patch_modules=("botocore",))


def traced(handler: Handler) -> Handler:
    """Like `Tracer().capture_lambda_handler`, but the Tracer is made at the first traced invocation (unless
    priming made it)."""
    wrapped: list[Handler] = []

    @functools.wraps(handler)
    def invoke(event: dict[str, Any], context: Any) -> dict[str, Any]:
        if not tracing_enabled():
            return handler(event, context)
        if not wrapped:
            wrapped.append(tracer().capture_lambda_handler(handler))
        return wrapped[0](event, context)

    return invoke


class FunctionFailed(Exception):
    """What the Lambda runtime sees of an exception that escaped a handler: its type and redacted text."""


def _redacted_failures(handler: Handler) -> Handler:
    """The runtime writes an escaping exception's text and traceback to the log unformatted, past the
    redacting formatter (SES's MessageRejected quotes the recipient); so it is logged here, redacted, and
    the runtime gets a stand-in that holds no address and no chained cause."""

    @functools.wraps(handler)
    def invoke(event: dict[str, Any], context: Any) -> dict[str, Any]:
        try:
            return handler(event, context)
        except Exception as failure:
            logger.exception("invocation failed")
            raise FunctionFailed(redact(f"{type(failure).__name__}: {failure}")) from None

    return invoke


def observed(correlation_id_path: str | None = None) -> Callable[[Handler], Handler]:
    """Every function's handler: Powertools' Lambda context and correlation id in each log line, its metrics
    flushed after each invocation (with a ColdStart count on an environment's first, for the dashboard), traced,
    and nothing unredacted left for the runtime to log."""

    def decorate(handler: Handler) -> Handler:
        with_context = logger.inject_lambda_context(correlation_id_path=correlation_id_path)
        flushed = metrics.log_metrics(_redacted_failures(traced(handler)), capture_cold_start_metric=True)
        decorated: Handler = with_context(flushed)
        return decorated

    return decorate


def count(metric: str) -> None:
    metrics.add_metric(name=metric, unit=MetricUnit.Count, value=1)


def count_by(metric: str, kind: str) -> None:
    """A count per kind (an outcome, a decision), as its own metric name: `Assessments.FULL_REFUND`."""
    metrics.add_metric(name=f"{metric}.{kind}", unit=MetricUnit.Count, value=1)
