"""The decisions of a long period as a file (docs/design.md "Decisions exports"): a supervisor asks, the job
writes the same rows as `GET /reports/decisions.csv` into the reports bucket part by part, going on from where it
was kept when it runs out of time or is delivered twice, and the export's progress, then its short-lived link,
are read from the API."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

import boto3
import moto.s3.models
import pytest
from api_support import JobQueue, JobRoutes, Response, call, file_claim, seed_claim, sent_twice

from refund_core.adapters import decisions_exports, report_files
from refund_core.app import review
from refund_core.app.decisions_exports import run_export
from refund_core.app.inputs import RefuseCommand
from refund_core.http.identity import Caller
from refund_core.settings import settings
from refund_local.environment import REGION
from refund_local.events import api_event, claims_for
from refund_local.stack import LocalAws

SUE = claims_for("sue", supervisor=True)
RITA = claims_for("rita", reviewer=True)
EXPORTS = "/reports/decisions-exports"
DAY = timedelta(days=1)


@pytest.fixture
def small_parts(stack: LocalAws, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Every day with a decision ends a part: S3's 5 MiB least part, lowered in the emulator alone."""
    monkeypatch.setenv("DECISIONS_EXPORT_PART_BYTES", "1")
    monkeypatch.setattr(moto.s3.models, "S3_UPLOAD_PART_MIN_SIZE", 1)
    settings.cache_clear()
    yield
    settings.cache_clear()


def start(body: Any, claims: dict[str, str] = SUE) -> Response:
    return call(api_event("POST", EXPORTS, EXPORTS, body=body, claims=claims))


ROUTES = JobRoutes(EXPORTS, "exportId", SUE)
status, listed = ROUTES.status, ROUTES.listed


def jobs() -> JobQueue:
    return JobQueue.of(settings().decisions_export_queue_url, "functions/exports/")


def decided_over_days(now: datetime) -> list[str]:
    """Six requests received on six days of the last twelve: four approved at once, two refused by a reviewer."""
    ids = []
    for index in range(6):
        received_at = now - (11 - 2 * index) * DAY
        username, order_id = f"cust-{index}", f"ord-{index}"
        # An order a day old, barely used, is refunded at once; one of 40 days, much used, waits for a reviewer.
        old = index % 3 == 0
        seed_claim(username, order_id, received_at=received_at, age_days=40 if old else 1,
                   trafficBytes=1_200_000_000 if old else 1_000)  # fmt: skip
        filed = file_claim(username, order_id, received_at)
        assert (filed["status"] == "PENDING") is old
        if old:
            reviewer = Caller(username="rita", email="rita@example.com", groups=frozenset({"refund-reviewers"}))
            command = RefuseCommand(action="refuse", note="Outside the window.")
            review.evaluate_refund_request(reviewer, filed["requestId"], command, now=received_at + timedelta(hours=1))
        ids.append(filed["requestId"])
    return ids


def file_of(url: str) -> str:
    """What the presigned link downloads (read from the emulated bucket, the link checked)."""
    query = parse_qs(urlsplit(url).query)
    assert query["X-Amz-Expires"] == ["300"]
    assert query["response-content-disposition"][0].startswith("attachment; filename=")
    link, bucket = urlsplit(url), settings().reports_bucket_name
    assert bucket is not None and link.hostname is not None and link.hostname.startswith(f"{bucket}.s3.")
    s3 = boto3.client("s3", region_name=REGION)
    body = s3.get_object(Bucket=bucket, Key=unquote(link.path.removeprefix("/")))["Body"]
    return str(body.read().decode("utf-8"))


def test_an_export_is_the_decisions_csv_of_its_period_written_part_by_part(small_parts: None) -> None:
    now = datetime.now(UTC)
    ids = decided_over_days(now)
    period = {"from": (now - 14 * DAY).date().isoformat(), "to": now.date().isoformat()}

    asked = start(period)
    assert asked.status == 202, asked.json
    export = asked.json
    assert (export["status"], export["days"], export["daysRead"], export["rows"]) == ("RUNNING", 15, 0, 0)
    assert export["downloadUrl"] is None and export["requestedBy"] == "sue"
    assert status(export["exportId"]).json["status"] == "RUNNING"

    # A part for each day with a decision (the header in the first): each invocation stops after its part and
    # queues the rest; the last completes the file.
    assert jobs().run() == 7
    done = status(export["exportId"]).json
    assert (done["status"], done["daysRead"], done["rows"]) == ("DONE", 15, 6)
    assert done["fileName"] == f"decisions-{period['from']}-{period['to']}.csv"
    at_once = call(api_event("GET", "/reports/decisions.csv", "/reports/decisions.csv", query=period, claims=SUE))
    assert at_once.status == 200
    assert file_of(done["downloadUrl"]) == at_once.raw["body"]
    assert done["size"] == len(at_once.raw["body"].encode())
    assert [line.split(",")[0] for line in at_once.raw["body"].splitlines()[1:]] == ids


def test_a_job_delivered_twice_or_after_its_export_is_done_writes_each_row_once(small_parts: None) -> None:
    now = datetime.now(UTC)
    decided_over_days(now)
    period = {"from": (now - 14 * DAY).date().isoformat(), "to": now.date().isoformat()}
    export_id = start(period).json["exportId"]
    (message,) = jobs().queued()
    jobs().deliver(message)  # one part, then the rest queued
    jobs().deliver(message)  # the same message again: on from the part kept
    jobs().run()
    jobs().deliver(message)  # and once more after the export is done

    the_file_is_the_csv(export_id, period, 6)


def the_file_is_the_csv(export_id: str, period: dict[str, str], rows: int) -> None:
    done = status(export_id).json
    at_once = call(api_event("GET", "/reports/decisions.csv", "/reports/decisions.csv", query=period, claims=SUE))
    assert (done["status"], done["rows"], done["size"]) == ("DONE", rows, len(at_once.raw["body"].encode()))
    assert file_of(done["downloadUrl"]) == at_once.raw["body"]


def test_a_delivery_that_stops_once_the_file_is_complete_leaves_the_next_to_say_so(
    small_parts: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    now = datetime.now(UTC)
    decided_over_days(now)
    period = {"from": (now - 14 * DAY).date().isoformat(), "to": now.date().isoformat()}
    export_id = start(period).json["exportId"]
    completed = report_files.completed

    def complete_then_time_out(*arguments: Any) -> bool:
        completed(*arguments)
        raise TimeoutError("the invocation timed out")

    monkeypatch.setattr(report_files, "completed", complete_then_time_out)
    with pytest.raises(TimeoutError):
        run_export(export_id, seconds_left=lambda: 900.0, clock=lambda: datetime.now(UTC))
    assert status(export_id).json["status"] == "RUNNING"
    monkeypatch.undo()
    jobs().run()  # the queue's message again: the parts are final, so it only says the file is complete
    the_file_is_the_csv(export_id, period, 6)


def test_two_deliveries_at_once_never_write_one_part_twice(small_parts: None, monkeypatch: pytest.MonkeyPatch) -> None:
    now = datetime.now(UTC)
    decided_over_days(now)
    period = {"from": (now - 14 * DAY).date().isoformat(), "to": now.date().isoformat()}
    export_id = start(period).json["exportId"]
    uploaded_part = report_files.uploaded_part
    numbers: list[int] = []

    def the_other_delivery_meanwhile(key: str, upload_id: str, number: int, data: bytes) -> str | None:
        numbers.append(number)
        if len(numbers) == 1:  # while this one uploads its first part, the other keeps one and queues the rest
            run_export(export_id, seconds_left=lambda: 30.0, clock=lambda: datetime.now(UTC))
        return uploaded_part(key, upload_id, number, data)

    monkeypatch.setattr(report_files, "uploaded_part", the_other_delivery_meanwhile)
    run_export(export_id, seconds_left=lambda: 900.0, clock=lambda: datetime.now(UTC))
    assert numbers == [1, 2]  # this one stopped: the other had moved the export on
    jobs().run()
    # Each part under its own number; the first delivery's part 1 is not in the file.
    assert numbers == [1, 2, 3, 4, 5, 6, 7]
    record = decisions_exports.export(export_id)
    assert record is not None and [part.number for part in record.parts] == [2, 3, 4, 5, 6, 7]
    the_file_is_the_csv(export_id, period, 6)


def test_a_large_part_holds_many_days_and_one_invocation_does_a_short_export(stack: LocalAws) -> None:
    now = datetime.now(UTC)
    decided_over_days(now)
    export_id = start({"from": (now - 30 * DAY).date().isoformat(), "to": now.date().isoformat()}).json["exportId"]
    assert jobs().run() == 1
    done = status(export_id).json
    assert (done["status"], done["rows"], done["daysRead"], done["days"]) == ("DONE", 6, 31, 31)


def test_a_write_whose_answer_was_lost_and_that_was_sent_again_is_known_as_its_own(
    small_parts: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    """botocore sends a call again when its answer is lost: the second try of a conditional write then fails its
    condition, on the export as the first try left it. The job goes on; it is not taken for another delivery's."""
    now = datetime.now(UTC)
    decided_over_days(now)
    period = {"from": (now - 14 * DAY).date().isoformat(), "to": now.date().isoformat()}

    monkeypatch.setattr(decisions_exports, "written", sent_twice(decisions_exports.written))
    asked = start(period)
    assert asked.status == 202, asked.json
    assert jobs().run() == 7
    the_file_is_the_csv(asked.json["exportId"], period, 6)
