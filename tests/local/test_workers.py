"""The runner's Lambda environments (refund_local.workers): each worker is forked from a fork server that has the
libraries loaded, and must still be what `python -m refund_local.worker` with `env=` was: the function's own
environment and nothing of the runner's, its prints apart from its answers, UTC, one process per worker; a worker
that dies is replaced, and closing the pool ends them all."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from refund_local.workers import FunctionPool, FunctionSpec, InvocationFailed

PROBE = """
import os
import time


def lambda_handler(event, context):
    if event.get("die"):
        os._exit(3)
    print("a line of the function's log, not an answer")
    return {
        "environment": dict(os.environ),
        "pid": os.getpid(),
        "utcOffset": time.localtime().tm_gmtoff,
        "requestId": context.aws_request_id,
    }
"""


def spec(code: Path, name: str) -> FunctionSpec:
    environment = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "TZ": ":UTC", "ONLY_HERE": name}
    return FunctionSpec(name, str(code), "app.lambda_handler", environment, timeout_seconds=30, memory_mb=128)


@pytest.fixture
def code(tmp_path: Path) -> Path:
    (tmp_path / "app.py").write_text(PROBE, encoding="utf-8")
    return tmp_path


def test_each_worker_has_its_function_s_environment_alone_and_answers_apart_from_its_prints(
    code: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TZ", "Asia/Hong_Kong")
    monkeypatch.setenv("RUNNER_ONLY", "not for the functions")
    pools = [FunctionPool(spec(code, name), max_workers=2) for name in ("First", "Second")]
    try:
        answers = [pool.invoke({}) for pool in pools]
    finally:
        for pool in pools:
            pool.close()
    for pool, answer in zip(pools, answers, strict=True):
        assert answer["environment"] == dict(pool.spec.environment)
        assert answer["utcOffset"] == 0
        assert answer["pid"] not in (os.getpid(), *(other["pid"] for other in answers if other is not answer))


def test_a_worker_that_dies_is_replaced_and_closing_the_pool_ends_every_worker(code: Path) -> None:
    pool = FunctionPool(spec(code, "Mortal"), max_workers=1)
    try:
        first = pool.invoke({})["pid"]
        with pytest.raises(InvocationFailed):
            pool.invoke({"die": True})
        second = pool.invoke({})["pid"]
        assert second != first
        assert not _running(first)
    finally:
        pool.close()
    assert not _running(second)


def _running(pid: int) -> bool:
    """Whether the process is there and not a zombie (a worker ended is waited for by its fork server)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text(encoding="utf-8").rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"
