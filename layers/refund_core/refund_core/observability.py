"""Logger, Metrics and Tracer for every function, made once. Tracer is imported only when a handler is
traced inside Lambda: its import (aws_xray_sdk) costs about 200 ms of cold start."""

from __future__ import annotations

import functools
import os
from collections.abc import Callable
from typing import Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit

SERVICE = "refunds"
METRICS_NAMESPACE = "SmartSecurity/Refunds"

# The template sets POWERTOOLS_SERVICE_NAME and POWERTOOLS_METRICS_NAMESPACE, which win; the defaults
# serve processes that import the layer before they set their environment (the local runner, scripts).
logger = Logger(service=os.environ.get("POWERTOOLS_SERVICE_NAME", SERVICE))
metrics = Metrics(namespace=os.environ.get("POWERTOOLS_METRICS_NAMESPACE", METRICS_NAMESPACE))

Handler = Callable[[dict[str, Any], Any], dict[str, Any]]


def _tracing_enabled() -> bool:
    disabled = os.environ.get("POWERTOOLS_TRACE_DISABLED", "").lower() in {"1", "true"}
    return bool(os.environ.get("AWS_LAMBDA_FUNCTION_NAME")) and not disabled


def traced(handler: Handler) -> Handler:
    """Like `Tracer().capture_lambda_handler`, but the Tracer is made at the first traced invocation."""
    wrapped: list[Handler] = []

    @functools.wraps(handler)
    def invoke(event: dict[str, Any], context: Any) -> dict[str, Any]:
        if not _tracing_enabled():
            return handler(event, context)
        if not wrapped:
            from aws_lambda_powertools import Tracer  # noqa: PLC0415 - deliberately lazy

            wrapped.append(Tracer().capture_lambda_handler(handler))
        return wrapped[0](event, context)

    return invoke


def count(metric: str) -> None:
    metrics.add_metric(name=metric, unit=MetricUnit.Count, value=1)


def count_by(metric: str, kind: str) -> None:
    """A count per kind (an outcome, a decision), as its own metric name: `Assessments.FULL_REFUND`."""
    metrics.add_metric(name=f"{metric}.{kind}", unit=MetricUnit.Count, value=1)
