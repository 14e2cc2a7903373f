"""One Lambda execution environment: forked by the local runner's fork server (refund_local.workers,
`run_forked`) with the function's environment from template.yaml, or `python -m refund_local.worker CODE_URI
HANDLER` on its own.

It loads the handler once, as Lambda's runtime does at init, says how long that took, then runs one
invocation at a time: an invocation per line on stdin, its answer per line on the protocol stream. The
handler's own output (Powertools' JSON logs are printed) goes to stderr, which the runner shows."""

from __future__ import annotations

import json
import os
import sys
import time
import traceback
from typing import Any, TextIO

from refund_local.handlers import LambdaContext, load_handler


def _protocol_stream() -> TextIO:
    """The original stdout, kept for answers; file descriptor 1 then points at stderr, so that whatever the
    handler prints cannot be taken for an answer."""
    answers = os.fdopen(os.dup(sys.stdout.fileno()), "w", encoding="utf-8", buffering=1)
    os.dup2(sys.stderr.fileno(), sys.stdout.fileno())
    return answers


def serve(code_uri: str, handler_name: str, answers: TextIO, invocations: TextIO) -> None:
    started = time.perf_counter()
    handler = load_handler(code_uri, handler_name)
    init_ms = (time.perf_counter() - started) * 1000
    function = os.environ.get("AWS_LAMBDA_FUNCTION_NAME", code_uri)
    memory = int(os.environ.get("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "512"))
    answers.write(json.dumps({"ready": True, "initMs": round(init_ms, 1), "pid": os.getpid()}) + "\n")
    for line in invocations:
        invocation = json.loads(line)
        context = LambdaContext(
            function_name=function,
            deadline_ms=int(invocation["deadlineMs"]),
            memory_limit_in_mb=memory,
            aws_request_id=invocation["requestId"],
        )
        try:
            answer: dict[str, Any] = {"result": handler(invocation["event"], context)}
        except Exception as error:  # the function's error, reported as Lambda reports it
            answer = {
                "errorType": type(error).__name__,
                "errorMessage": str(error),
                "stackTrace": traceback.format_exception(error),
            }
            traceback.print_exception(error)
        answers.write(json.dumps(answer, default=str) + "\n")


def run_forked(code_uri: str, handler_name: str, environment: dict[str, str], pipes: tuple[int, int, int]) -> None:
    """In a process the runner's fork server made: the pipes it was given (file descriptors of its invocations,
    answers and logs) as its standard input, output and error, and the function's environment alone, as
    `python -m refund_local.worker` started with `env=` has them; then as `main`."""
    for given, standard in zip(pipes, (0, 1, 2), strict=True):
        os.dup2(given, standard)
        os.close(given)
    sys.stdin = open(0, encoding="utf-8", closefd=False)  # noqa: SIM115 - the process's own, for its life
    sys.stdout = open(1, "w", encoding="utf-8", closefd=False)  # noqa: SIM115
    sys.stderr = open(2, "w", encoding="utf-8", buffering=1, closefd=False)  # noqa: SIM115
    os.environ.clear()
    os.environ.update(environment)
    time.tzset()
    serve(code_uri, handler_name, _protocol_stream(), sys.stdin)


def main() -> int:
    code_uri, handler_name = sys.argv[1], sys.argv[2]
    answers = _protocol_stream()
    serve(code_uri, handler_name, answers, sys.stdin)
    return 0


if __name__ == "__main__":
    sys.exit(main())
