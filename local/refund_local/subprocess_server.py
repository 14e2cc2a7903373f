"""`refund-local serve` as a child process on a free port of 127.0.0.1: for the e2e tests, the fuzzer and
the load benchmark, which all drive the local stack over real HTTP."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from refund_local.paths import REPO_ROOT
from refund_local.processes import free_port

# Eleven functions' workers warm up at once, and a large seed is written first: on 2 busy cores (CI runs the
# browser and e2e servers side by side) that has taken a minute.
STARTUP_TIMEOUT_SECONDS = 180


class ServerDidNotStart(RuntimeError):
    """The server exited, or did not answer in time; the message carries its log."""


def _serving(base: str) -> bool:
    try:
        with urllib.request.urlopen(base + "/_local/outbox", timeout=2) as answer:  # noqa: S310 - loopback only
            return bool(answer.status == 200)
    except OSError:  # not listening yet, or a connection waiting in the backlog until start-up is done
        return False


@contextlib.contextmanager
def serve_in_subprocess(directory: Path, seed: dict[str, Any] | None, *arguments: str) -> Iterator[str]:
    """Writes `seed` (None: the demo data) and the server's log into `directory`, yields the base URL once the
    server answers, and stops it on exit. No metrics: nothing reads them locally.

    A server that keeps its state (`--data-dir`) is stopped as a person stops it (SIGTERM: what is in flight
    finishes, the state is saved), and killed only if that takes too long. Any other is killed at once with all
    its processes (its own session: the workers, the card processor): a graceful stop would first deliver what
    the outbox still owes, seconds of work that nobody reads once its tests are done."""
    seeding: list[str] = []
    if seed is not None:
        seed_path = directory / "seed.json"
        seed_path.write_text(json.dumps(seed), encoding="utf-8")
        seeding = ["--seed", str(seed_path)]
    log_path = directory / "server.log"
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    command = [sys.executable, "-m", "refund_local", "serve", "--port", str(port), *seeding, *arguments]
    environment = os.environ | {"POWERTOOLS_METRICS_DISABLED": "true"}
    with log_path.open("wb") as log:
        process = subprocess.Popen(  # noqa: S603
            command, cwd=REPO_ROOT, stdout=log, stderr=subprocess.STDOUT, env=environment, start_new_session=True
        )
        try:
            give_up = time.monotonic() + STARTUP_TIMEOUT_SECONDS
            while not _serving(base):
                if process.poll() is not None or time.monotonic() > give_up:
                    log_text = log_path.read_text(encoding="utf-8", errors="replace")
                    raise ServerDidNotStart(f"refund-local did not start (exit code {process.poll()}):\n{log_text}")
                time.sleep(0.1)
            yield base
        finally:
            if any(argument == "--data-dir" or argument.startswith("--data-dir=") for argument in arguments):
                process.terminate()
                try:
                    process.wait(timeout=30)
                except subprocess.TimeoutExpired:
                    _kill_session(process)
            else:
                _kill_session(process)


def _kill_session(process: subprocess.Popen[bytes]) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)
    process.wait()
