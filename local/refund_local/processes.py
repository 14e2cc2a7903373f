"""What the local runner, its tests and the scripts do with the servers they start on this machine: a free port
to start one on, and a child process stopped."""

from __future__ import annotations

import socket
import subprocess
from typing import Any


def free_port(host: str = "127.0.0.1") -> int:
    """A port of `host` that nothing listens on now (the system's choice)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((host, 0))
        port: int = probe.getsockname()[1]
        return port


def stop(process: subprocess.Popen[Any], timeout_seconds: float) -> None:
    """Asks the process to end (SIGTERM), and kills it if it has not within `timeout_seconds`."""
    process.terminate()
    try:
        process.wait(timeout=timeout_seconds)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
