"""What every long job does alike (app/jobs.py), shown for each: the supervisors' decisions exports and the policy
owners' simulations. A job whose queue refuses it, that never ran, or that fails on its last try is shown failed
and left so; the jobs of the last week are listed newest first; a bad period, a caller of another role, an
unknown or malformed id are refused and queue nothing. What each job does of its own is in
test_decisions_exports.py and test_policy_simulations.py."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import pytest
from api_support import JobQueue, JobRoutes, Response, call
from test_policy_routes import OLIVE, draft, put_draft

from refund_core.adapters import decisions_exports, policy_store
from refund_core.adapters.records import JobRecord
from refund_core.app.decisions_exports import run_export
from refund_core.app.jobs import JOB_TRIES, STALLED_AFTER, RunJob
from refund_core.app.policy_simulations import run_simulation
from refund_core.observability import FunctionFailed
from refund_core.settings import settings
from refund_local.events import api_event, claims_for
from refund_local.stack import LocalAws

SUE = claims_for("sue", supervisor=True)
RITA = claims_for("rita", reviewer=True)
JANUARY = {"from": "2026-01-01", "to": "2026-01-31"}
UNKNOWN = "20260101T000000000000-0123456789ab"


@dataclass(frozen=True)
class Kind:
    """A kind of long job, as the tests ask for it and read it."""

    routes: JobRoutes
    ask_resource: str
    ask_parameters: dict[str, str] | None
    queue_setting: str
    queue_name: str
    function: str
    read: Callable[[str], JobRecord | None]
    run: RunJob
    prepare: Callable[[], object]

    def ask(self, body: Any, claims: dict[str, str] | None = None) -> Response:
        path = self.ask_resource.format_map(self.ask_parameters or {})
        event = api_event("POST", self.ask_resource, path, path_parameters=self.ask_parameters, body=body,
                          claims=claims or self.routes.claims)  # fmt: skip
        return call(event)

    def asked(self, body: Any) -> str:
        answer = self.ask(body)
        assert answer.status == 202, answer.json
        job_id: str = answer.json[self.id_name]
        return job_id

    @property
    def id_name(self) -> str:
        return self.routes.id_name

    def queue(self) -> JobQueue:
        return JobQueue.of(getattr(settings(), self.queue_setting.lower()), self.function)


EXPORTS = Kind(
    routes=JobRoutes("/reports/decisions-exports", "exportId", SUE),
    ask_resource="/reports/decisions-exports",
    ask_parameters=None,
    queue_setting="DECISIONS_EXPORT_QUEUE_URL",
    queue_name="DecisionsExportQueue",
    function="functions/exports/",
    read=decisions_exports.export,
    run=run_export,
    prepare=lambda: None,
)
SIMULATIONS = Kind(
    routes=JobRoutes("/policy/simulations", "simulationId", OLIVE),
    ask_resource="/policy/drafts/{version}/simulations",
    ask_parameters={"version": "d1"},
    queue_setting="POLICY_SIMULATION_QUEUE_URL",
    queue_name="PolicySimulationQueue",
    function="functions/simulations/",
    read=policy_store.simulation_job,
    run=run_simulation,
    prepare=lambda: put_draft("d1", draft("d1")),
)


@pytest.fixture(params=[EXPORTS, SIMULATIONS], ids=["decisions export", "policy simulation"])
def kind(stack: LocalAws, request: pytest.FixtureRequest) -> Kind:
    chosen: Kind = request.param
    chosen.prepare()
    return chosen


def shown_failed(job: dict[str, Any], failure: str) -> None:
    assert (job["status"], job["failure"]) == ("FAILED", failure)
    assert job.get("downloadUrl") is None and job.get("result") is None


def test_a_job_that_never_ran_shows_as_failed_and_is_not_taken_up_again(kind: Kind) -> None:
    job_id = kind.asked(JANUARY)
    record = kind.read(job_id)
    assert record is not None
    assert kind.routes.status(job_id).json["status"] == "RUNNING"
    later = record.updated_at + STALLED_AFTER + timedelta(seconds=1)
    kind.run(job_id, lambda: 900.0, lambda: later)
    shown_failed(kind.routes.status(job_id).json, "stopped")
    kind.queue().run()  # the message still queued finds it failed
    shown_failed(kind.routes.status(job_id).json, "stopped")


def test_a_job_whose_queue_refuses_it_is_503_and_listed_as_failed(kind: Kind, monkeypatch: pytest.MonkeyPatch) -> None:
    url = kind.queue().url
    monkeypatch.setenv(kind.queue_setting, url.replace(kind.queue_name, "NoSuchQueue"))
    settings.cache_clear()
    answer = kind.ask(JANUARY)
    monkeypatch.undo()
    settings.cache_clear()
    assert (answer.status, answer.json["code"], answer.header("Retry-After")) == (503, "busy", "2")
    (failed,) = kind.routes.listed().json["items"]
    shown_failed(failed, "not started")


def test_a_job_failing_on_its_last_try_is_marked_failed(kind: Kind, monkeypatch: pytest.MonkeyPatch) -> None:
    job_id = kind.asked(JANUARY)
    (message,) = kind.queue().queued()

    def table_down(*arguments: Any) -> None:
        raise ConnectionError("DynamoDB is unreachable")

    monkeypatch.setattr("refund_core.app.policies.in_force", table_down)
    for tries, status_after in ((1, "RUNNING"), (JOB_TRIES, "FAILED")):
        delivered = {**message, "Attributes": {"ApproximateReceiveCount": str(tries)}}
        # Its one message failed: the invocation fails, and the queue gives the message again (or dead-letters it).
        with pytest.raises(FunctionFailed, match="DynamoDB is unreachable"):
            kind.queue().deliver(delivered)
        assert kind.routes.status(job_id).json["status"] == status_after
    shown_failed(kind.routes.status(job_id).json, "failed")


def test_the_jobs_of_the_last_week_are_listed_newest_first_without_their_results(kind: Kind) -> None:
    first = kind.asked(JANUARY)
    second = kind.asked({"from": "2026-02-01", "to": "2026-02-28"})
    kind.queue().run()
    assert kind.routes.status(first).json["status"] == "DONE"
    answer = kind.routes.listed()
    assert answer.status == 200
    items = answer.json["items"]
    assert [(item[kind.id_name], item["status"]) for item in items] == [(second, "DONE"), (first, "DONE")]
    assert all(item.get("result") is None for item in items)  # a simulation's result is read by its id


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"from": "2026-01-01"}, "to"),
        ({"from": "2026-02-01", "to": "2026-01-01"}, "from"),
        ({"from": "2024-01-01", "to": "2026-01-01"}, "to"),
        ({"from": "yesterday", "to": "2026-01-01"}, "from"),
    ],
)
def test_a_bad_period_is_400_naming_the_field_and_nothing_is_queued(
    kind: Kind, body: dict[str, str], field: str
) -> None:
    answer = kind.ask(body)
    assert answer.status == 400
    assert answer.json["errors"][0]["field"] == field
    assert kind.routes.listed().json["items"] == [] and kind.queue().queued() == []


def test_only_the_jobs_role_asks_and_an_unknown_or_malformed_id_is_refused(kind: Kind) -> None:
    others = [claims for claims in (RITA, SUE, OLIVE, claims_for("hal")) if claims != kind.routes.claims]
    for claims in others:
        assert kind.ask(JANUARY, claims).status == 403
        assert kind.routes.listed(claims).status == 403
        assert kind.routes.status(UNKNOWN, claims).status == 403
    assert kind.queue().queued() == []
    assert kind.routes.status(UNKNOWN).status == 404
    assert kind.routes.status("../other").status == 404  # no such route
    malformed = kind.routes.status("2026-01-01")
    assert (malformed.status, malformed.json["errors"][0]["field"]) == (400, kind.id_name)
