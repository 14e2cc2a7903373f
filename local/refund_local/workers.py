"""Lambda's execution environments, emulated: each function runs in worker processes of its own
(refund_local.worker), one invocation at a time per worker, with the function's environment from
template.yaml. A free worker takes the next invocation; when every worker is busy a new one starts (a cold
start, printed) up to the function's limit, beyond which invocations wait. So invocations of different
requests run at the same time, in separate interpreters, as in Lambda: no module state is shared. Each worker is
a fork of a fork server that has the libraries loaded (`_PRELOADED`): a cold start runs the function's modules only."""

from __future__ import annotations

import contextlib
import functools
import itertools
import json
import logging
import multiprocessing
import os
import queue
import threading
import time
import uuid
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from multiprocessing import reduction
from typing import IO, Any

from refund_local.worker import run_forked

log = logging.getLogger("refund_local")
_STARTUP_SECONDS = 60.0


@dataclass(frozen=True)
class FunctionSpec:
    """One AWS::Serverless::Function as the runner runs it."""

    name: str  # logical id
    code_uri: str
    handler: str
    environment: Mapping[str, str]
    timeout_seconds: float
    memory_mb: int


class InvocationFailed(RuntimeError):
    """The function raised, timed out or its worker died: Lambda reports a function error."""


# What every function imports, loaded once in the fork server: each worker is a fork of it, so that a cold start
# runs the function's own modules only (about 0.5 s less CPU of each one's 0.9 s). None reads the environment when
# imported; the function's modules, which do, are imported by the worker after it has the function's own.
_PRELOADED = [
    "boto3",
    "pydantic",
    "aws_lambda_powertools.event_handler",
    "aws_lambda_powertools.logging",
    "aws_lambda_powertools.metrics",
    "aws_lambda_powertools.utilities.batch",
    "aws_lambda_powertools.utilities.idempotency",
    "aws_lambda_powertools.utilities.parameters",
    "stripe",
    "refund_local.worker",
]


@functools.cache
def _fork_server() -> multiprocessing.context.ForkServerContext:
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload(_PRELOADED)
    return context


class _Given:
    """A file descriptor handed to a forked worker (the fork server passes it over its socket)."""

    def __init__(self, descriptor: int) -> None:
        self.descriptor = descriptor

    def __reduce__(self) -> tuple[Any, tuple[Any]]:
        return _received, (reduction.DupFd(self.descriptor),)


def _received(duplicate: Any) -> int:
    descriptor: int = duplicate.detach()
    return descriptor


class _Worker:
    """One process; `invoke` is called by one thread at a time (the pool hands a worker to one caller)."""

    def __init__(self, spec: FunctionSpec, number: int, echo_logs: bool) -> None:
        self.spec = spec
        self.number = number
        self._echo_logs = echo_logs
        started = time.perf_counter()
        invocations, to_worker = os.pipe()
        from_worker, answers = os.pipe()
        logs_from_worker, logs = os.pipe()
        self._process = _fork_server().Process(
            target=run_forked,
            args=(
                spec.code_uri,
                spec.handler,
                dict(spec.environment),
                tuple(map(_Given, (invocations, answers, logs))),
            ),
            name=f"{spec.name}-{number}",
            daemon=True,
        )
        try:
            self._process.start()
        except Exception as error:
            for ours in (to_worker, from_worker, logs_from_worker):
                os.close(ours)
            raise InvocationFailed(f"{spec.name} worker {number} could not be forked: {error}") from error
        finally:
            for given in (invocations, answers, logs):
                os.close(given)
        self._stdin: IO[str] = open(to_worker, "w", encoding="utf-8", buffering=1)  # noqa: SIM115
        self._answers: queue.Queue[str | None] = queue.Queue()
        answer_lines, log_lines = open(from_worker, encoding="utf-8"), open(logs_from_worker, encoding="utf-8")  # noqa: SIM115
        threading.Thread(target=self._read_answers, args=(answer_lines,), daemon=True).start()
        threading.Thread(target=self._read_logs, args=(log_lines,), daemon=True).start()
        ready = self._answer(_STARTUP_SECONDS)
        if ready is None or not json.loads(ready).get("ready"):
            self.kill()
            raise InvocationFailed(f"{spec.name} worker {number} did not start")
        self.pid = self._process.pid
        self.init_ms = float(json.loads(ready)["initMs"])
        log.info(
            "%s worker %d (pid %d) cold start: init %.0f ms, process ready in %.0f ms",
            spec.name,
            number,
            self.pid,
            self.init_ms,
            (time.perf_counter() - started) * 1000,
        )

    def _read_answers(self, stream: IO[str]) -> None:
        for line in stream:
            self._answers.put(line)
        self._answers.put(None)

    def _read_logs(self, stream: IO[str]) -> None:
        for line in stream:
            if self._echo_logs or '"level":"ERROR"' in line or "Traceback" in line:
                log.info("%s#%d | %s", self.spec.name, self.number, line.rstrip())

    def _answer(self, timeout: float) -> str | None:
        try:
            return self._answers.get(timeout=timeout)
        except queue.Empty:
            return None

    def alive(self) -> bool:
        return self._process.is_alive()

    def invoke(self, event: Mapping[str, Any], request_id: str) -> Any:
        deadline_ms = int(time.time() * 1000 + self.spec.timeout_seconds * 1000)
        invocation = {"event": event, "requestId": request_id, "deadlineMs": deadline_ms}
        try:
            self._stdin.write(json.dumps(invocation) + "\n")
            self._stdin.flush()
        except OSError as error:
            raise InvocationFailed(f"{self.spec.name} worker {self.number} is gone") from error
        line = self._answer(self.spec.timeout_seconds)
        if line is None:
            # Lambda ends an invocation at its Timeout, and the environment with it.
            self.kill()
            raise InvocationFailed(f"{self.spec.name} timed out after {self.spec.timeout_seconds:.0f} s")
        answer = json.loads(line)
        if "errorType" in answer:
            raise InvocationFailed(f"{self.spec.name}: {answer['errorType']}: {answer['errorMessage']}")
        return answer["result"]

    def kill(self) -> None:
        with contextlib.suppress(OSError):
            self._stdin.close()
        if self._process.is_alive():
            self._process.terminate()
            self._process.join(5)
            if self._process.is_alive():
                self._process.kill()
                self._process.join()


class FunctionPool:
    """The execution environments of one function."""

    def __init__(self, spec: FunctionSpec, max_workers: int, echo_logs: bool = False) -> None:
        self.spec = spec
        self._max = max_workers
        self._echo_logs = echo_logs
        self._idle: list[_Worker] = []
        self._all: list[_Worker] = []
        self._numbers = itertools.count(1)
        self._changed = threading.Condition()
        self._starting = 0
        self._closed = False

    def warm_up(self) -> None:
        """One worker started now, as with provisioned concurrency of 1, so the first call is not a cold start."""
        with self._changed:
            self._starting += 1
        self._started(self._start())

    def _start(self) -> _Worker | None:
        try:
            return _Worker(self.spec, next(self._numbers), self._echo_logs)
        except InvocationFailed:
            log.exception("%s: a worker failed to start", self.spec.name)
            return None

    def _started(self, worker: _Worker | None) -> None:
        with self._changed:
            self._starting -= 1
            if worker is not None:
                if self._closed:
                    worker.kill()
                else:
                    self._all.append(worker)
                    self._idle.append(worker)
            self._changed.notify_all()

    @contextlib.contextmanager
    def _worker(self) -> Iterator[_Worker]:
        with self._changed:
            while True:
                if self._closed:
                    raise InvocationFailed(f"{self.spec.name} is stopping")
                if self._idle:
                    worker = self._idle.pop()
                    break
                if len(self._all) + self._starting < self._max:
                    self._starting += 1
                    self._changed.release()
                    try:
                        self._started(self._start())
                    finally:
                        self._changed.acquire()
                    continue
                self._changed.wait()
        try:
            yield worker
        finally:
            with self._changed:
                if worker.alive() and not self._closed:
                    self._idle.append(worker)
                else:
                    self._all.remove(worker)
                    worker.kill()
                self._changed.notify_all()

    def invoke(self, event: Mapping[str, Any]) -> Any:
        request_id = str(uuid.uuid4())
        with self._worker() as worker:
            started = time.perf_counter()
            log.info("START %s worker %d RequestId: %s", self.spec.name, worker.number, request_id)
            try:
                return worker.invoke(event, request_id)
            finally:
                elapsed = (time.perf_counter() - started) * 1000
                log.info(
                    "END %s worker %d RequestId: %s Duration: %.1f ms",
                    self.spec.name,
                    worker.number,
                    request_id,
                    elapsed,
                )

    def close(self) -> None:
        with self._changed:
            self._closed = True
            workers = list(self._all)
            self._changed.notify_all()
        for worker in workers:
            worker.kill()


class Invoker:
    """Every function's pool, by logical id."""

    def __init__(self, specs: list[FunctionSpec], max_workers: int, echo_logs: bool = False) -> None:
        self.pools = {spec.name: FunctionPool(spec, max_workers, echo_logs) for spec in specs}

    def warm_up(self) -> None:
        threads = [threading.Thread(target=pool.warm_up) for pool in self.pools.values()]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()

    def invoke(self, function: str, event: Mapping[str, Any]) -> Any:
        return self.pools[function].invoke(event)

    def close(self) -> None:
        for pool in self.pools.values():
            pool.close()
