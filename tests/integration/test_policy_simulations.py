"""A policy simulation run as a job (docs/design.md "Policy simulations as jobs"): a policy owner asks, the job
runs the draft as saved then on the requests received day by day, going on from the day it kept when it runs
out of time or is delivered twice, and its answer, once done, is what `simulate` answers at once."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from api_support import JobQueue, JobRoutes, call, sent_twice
from test_policy_routes import DAY, HONG_KONG, OLIVE, draft, on_draft, policy_items, put_draft, seeded_month

from refund_core.adapters import policy_store
from refund_core.app.policy_simulations import run_simulation
from refund_core.policy.models import Outcome
from refund_core.policy.money import Money
from refund_core.policy.simulation import MAX_CHANGES_LISTED, ChangedRequest, Tally, WasWould
from refund_core.settings import settings
from refund_local.events import api_event
from refund_local.stack import LocalAws

SIMULATIONS = "/policy/simulations"
FORTNIGHT = "2027-01-01.1"
# What `simulate` answers that a job's answer must repeat (its id, moment and author are the job's own).
SAME_ANSWER = ("from", "to", "version", "requests", "notReplayed", "cancelled", "changedCount", "changed",
               "byOutcome", "refunded")  # fmt: skip


ROUTES = JobRoutes(SIMULATIONS, "simulationId", OLIVE)
status, listed = ROUTES.status, ROUTES.listed


def jobs() -> JobQueue:
    return JobQueue.of(settings().policy_simulation_queue_url, "functions/simulations/")


def month(now: datetime) -> dict[str, str]:
    today = now.astimezone(HONG_KONG).date()
    return {"from": str(today - 30 * DAY), "to": str(today)}


def test_a_simulation_run_as_a_job_answers_what_simulate_answers(stack: LocalAws) -> None:
    now = datetime.now(UTC)
    seeded_month(now)
    assert put_draft(FORTNIGHT, draft(FORTNIGHT, claimWindowDays=14)).status == 200
    period = month(now)

    asked = on_draft(FORTNIGHT, "simulations", period)
    assert asked.status == 202, asked.json
    job = asked.json
    assert (job["status"], job["days"], job["daysRead"], job["requestsRead"], job["result"]) == ("RUNNING", 31, 0, 0,
                                                                                                   None)  # fmt: skip
    assert job["requestedBy"] == "olive" and job["version"] == FORTNIGHT

    # Ten days received a request: each invocation keeps one of them and queues the rest, and the tenth, reading
    # the last, records the result.
    assert jobs().run() == 10
    done = status(job["simulationId"]).json
    assert (done["status"], done["daysRead"], done["requestsRead"]) == ("DONE", 31, 10)
    at_once = on_draft(FORTNIGHT, "simulate", period).json
    assert at_once["changedCount"] == 5
    assert {name: done["result"][name] for name in SAME_ANSWER} == {name: at_once[name] for name in SAME_ANSWER}
    assert done["result"]["simulationId"] == job["simulationId"]
    assert done["result"]["simulatedBy"] == "olive"

    # Its one audit entry, with the result's counts.
    audit = call(api_event("GET", "/policy/audit", "/policy/audit", claims=OLIVE)).json["items"]
    simulated = [entry["detail"] for entry in audit if entry["action"] == "simulated"]
    assert simulated == [f"{period['from']} to {period['to']}: 10 requests, 5 would change"] * 2


def test_a_job_delivered_twice_or_after_it_is_done_counts_each_request_once(stack: LocalAws) -> None:
    now = datetime.now(UTC)
    seeded_month(now)
    put_draft(FORTNIGHT, draft(FORTNIGHT, claimWindowDays=14))
    simulation_id = on_draft(FORTNIGHT, "simulations", month(now)).json["simulationId"]
    (message,) = jobs().queued()
    jobs().deliver(message)  # one day, then the rest queued
    jobs().deliver(message)  # the same message again: on from the day kept
    jobs().run()
    jobs().deliver(message)  # and once more after it is done

    result = status(simulation_id).json["result"]
    assert (result["requests"], result["changedCount"], result["byOutcome"]["was"]["FULL_REFUND"]) == (10, 5, 10)
    audit = [item for item in policy_items() if item["pk"]["S"] == "POLICY#AUDIT"]
    assert sum('"simulated"' in item["value"]["S"] for item in audit) == 1


def test_of_two_deliveries_at_once_the_one_that_kept_its_day_first_goes_on(
    stack: LocalAws, monkeypatch: pytest.MonkeyPatch
) -> None:
    now = datetime.now(UTC)
    seeded_month(now)
    put_draft(FORTNIGHT, draft(FORTNIGHT, claimWindowDays=14))
    simulation_id = on_draft(FORTNIGHT, "simulations", month(now)).json["simulationId"]
    moved_on = policy_store.job_moved_on
    answers: list[bool] = []

    def the_other_delivery_meanwhile(*arguments: Any) -> bool:
        if not answers:  # before this one keeps its first day, the other runs the whole job
            answers.append(True)
            run_simulation(simulation_id, seconds_left=lambda: 900.0, clock=lambda: datetime.now(UTC))
        answers.append(moved_on(*arguments))
        return answers[-1]

    monkeypatch.setattr(policy_store, "job_moved_on", the_other_delivery_meanwhile)
    run_simulation(simulation_id, seconds_left=lambda: 30.0, clock=lambda: datetime.now(UTC))
    assert answers == [True, True, False]  # the other finished; this one's day was refused, and it stopped
    result = status(simulation_id).json["result"]
    assert (result["requests"], result["changedCount"]) == (10, 5)


def test_the_draft_is_simulated_as_saved_when_asked(stack: LocalAws) -> None:
    now = datetime.now(UTC)
    seeded_month(now)
    put_draft(FORTNIGHT, draft(FORTNIGHT, claimWindowDays=14))
    simulation_id = on_draft(FORTNIGHT, "simulations", month(now)).json["simulationId"]
    assert put_draft(FORTNIGHT, draft(FORTNIGHT, claimWindowDays=30)).status == 200  # saved again: as in force
    jobs().run()
    assert status(simulation_id).json["result"]["changedCount"] == 5
    assert on_draft(FORTNIGHT, "simulate", month(now)).json["changedCount"] == 0


def test_a_draft_that_is_not_there_is_404_and_nothing_is_queued(stack: LocalAws) -> None:
    answer = on_draft("nothing", "simulations", {"from": "2026-01-01", "to": "2026-01-31"})
    assert answer.status == 404, answer.json
    assert listed().json["items"] == [] and jobs().queued() == []


def test_a_job_holding_every_change_it_lists_fits_in_its_item(stack: LocalAws) -> None:
    """DynamoDB keeps an item of at most 400 KB: a job's record holds the draft and the first 1,000 changes."""
    put_draft("d1", draft("d1"))
    simulation_id = on_draft("d1", "simulations", {"from": "2026-01-01", "to": "2026-12-31"}).json["simulationId"]
    job = policy_store.simulation_job(simulation_id)
    assert job is not None
    money = Money.of("99999999.99", "HKD")
    change = ChangedRequest(
        request_id="rr_" + "Z" * 26,
        outcome=WasWould(was=Outcome.NEEDS_REVIEW, would=Outcome.PARTIAL_REFUND),
        suggested_amount=WasWould(was=money, would=money),
    )
    tally = Tally(requests=10**9, changed_count=10**9, changed=[change] * MAX_CHANGES_LISTED)
    full = job.model_copy(update={"tally": tally})
    assert policy_store.job_moved_on(job, full)
    (item,) = [item for item in policy_items() if item["pk"]["S"] == "POLICY#SIMULATION-JOB"]
    # DynamoDB counts each attribute's name and value in UTF-8.
    size = sum(len(name) + len(next(iter(value.values())).encode()) for name, value in item.items())
    assert size < 300 * 1024, size  # a margin under the limit, whatever the draft holds
    kept = policy_store.simulation_job(simulation_id)
    assert kept is not None and kept.tally == tally and kept.revision == 1


def test_a_write_whose_answer_was_lost_and_that_was_sent_again_is_known_as_its_own(
    stack: LocalAws, monkeypatch: pytest.MonkeyPatch
) -> None:
    """botocore sends a call again when its answer is lost: the second try of a conditional write then fails its
    condition, on the job as the first try left it. The job goes on; it is not taken for another delivery's."""
    now = datetime.now(UTC)
    seeded_month(now)
    put_draft(FORTNIGHT, draft(FORTNIGHT, claimWindowDays=14))
    monkeypatch.setattr(policy_store, "written", sent_twice(policy_store.written))
    monkeypatch.setattr(policy_store, "_transact", sent_twice(policy_store._transact))
    asked = on_draft(FORTNIGHT, "simulations", month(now))
    assert asked.status == 202, asked.json
    assert jobs().run() == 10
    result = status(asked.json["simulationId"]).json["result"]
    assert (result["requests"], result["changedCount"]) == (10, 5)
