"""The quick tour as a newcomer runs it: the README's shell lines, which `serve` prints too, run in bash
against `refund-local serve` with its demo data, and docs/local-runner.md walking through the same lines."""

from __future__ import annotations

import re
import shutil
import subprocess
import time
from pathlib import Path

import pytest
from e2e_support import running_server

from refund_local.demo import BOB_SUGGESTED_AMOUNT, quick_tour
from refund_local.paths import REPO_ROOT

pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("e2e-tour")]
DEFAULT_BASE = "http://127.0.0.1:3000"


def readme_bash(section: str) -> str:
    """The first bash block of the README's section."""
    readme = (REPO_ROOT / "README.md").read_text(encoding="utf-8")
    block = re.search(rf"## {section}\n.*?```bash\n(.*?)```", readme, re.DOTALL)
    assert block, f"README.md has no bash block under {section}"
    return block.group(1)


def readme_tour() -> list[str]:
    return readme_bash("A quick tour").splitlines()


def test_the_readme_the_banner_and_the_walkthrough_give_one_tour() -> None:
    assert readme_tour() == quick_tour(DEFAULT_BASE)
    walkthrough = (REPO_ROOT / "docs" / "local-runner.md").read_text(encoding="utf-8")
    commands = [line for line in quick_tour(DEFAULT_BASE) if not line.startswith("#")]
    missing = [line for line in commands if f"$ {line}\n" not in walkthrough and f"{line}\n" not in walkthrough]
    assert missing == []


def run_bash(script: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["bash", "-euo", "pipefail", "-c", script], cwd=REPO_ROOT, capture_output=True, text=True, timeout=120,
        check=False,
    )  # fmt: skip


@pytest.mark.skipif(shutil.which("jq") is None or shutil.which("curl") is None, reason="the tour needs curl and jq")
def test_the_readme_tour_runs_as_written(tmp_path: Path) -> None:
    """And the README's letter example after it, on the same data: the two never claim the same order."""
    with running_server(tmp_path, None) as server:
        answer = run_bash("\n".join(line.replace(DEFAULT_BASE, server.base) for line in readme_tour()))
        letter = run_bash(readme_bash("Requests by letter").replace(DEFAULT_BASE, server.base))
        assert letter.returncode == 0, letter.stderr
        # Queued as SES queues it: the letters function files it a moment later.
        give_up = time.monotonic() + 30
        while not (filed := server.call("GET", "/refund-requests", user="lee").json()["items"]):
            assert time.monotonic() < give_up, "lee's letter was never filed"
            time.sleep(0.2)
    assert [(request["orderId"], request["status"]) for request in filed] == [("ord-7001", "APPROVED")]
    assert answer.returncode == 0, answer.stderr
    out = answer.stdout
    assert '"status":"PENDING","outcome":"PARTIAL_REFUND"' in out
    assert f'"suggested":{{"amount":"{BOB_SUGGESTED_AMOUNT}"' in out
    assert f'"refundType":"PARTIAL","amount":{{"amount":"{BOB_SUGGESTED_AMOUNT}"' in out
    assert '"state":"SENT","reference":"re_' in out or '"state":"PAID","reference":"re_' in out
    assert '"state":"PAID","reference":"re_' in out
    assert '"CANCELLED"' in out
    assert '"subject":"We have received your refund request for order ord-2001"' in out
