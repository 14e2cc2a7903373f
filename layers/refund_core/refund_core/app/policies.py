"""The Refund Policy as the service applies it, and the policy owners' actions (API.md "The policy routes").

Which version applies: a new request is assessed under the version in force when it is received; a request
keeps the version it was assessed under (its decision, its emails); a reviewer's re-assessment uses the
version in force at receipt unless the reviewer asks for the current one. The versions are read through a
cache of at most `policy_cache_seconds`; a version never takes effect sooner than that after it is published,
so no function applies an older one after that moment."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from datetime import UTC, date, datetime, time, timedelta
from itertools import chain, groupby
from zoneinfo import ZoneInfo

from pydantic import AwareDatetime, Field, field_validator

from refund_core.adapters import policy_store, request_reads
from refund_core.adapters.dynamo import Page
from refund_core.adapters.policy_store import AuditRecord, DraftRecord, PolicyAction
from refund_core.adapters.records import ReportedRequest, RequestRecord
from refund_core.app.inputs import Period, check_period
from refund_core.errors import Conflict, InvalidInput, InvalidSettings, NotAPolicyOwner, NotFound
from refund_core.http.identity import Caller
from refund_core.observability import count, logger
from refund_core.policy import document, trial
from refund_core.policy.document import Policy, PublishedPolicy, shipped_policy
from refund_core.policy.models import CamelModel, Outcome, UtcDatetime
from refund_core.policy.money import Money
from refund_core.policy.simulation import ChangedRequest, Tally, WasWould
from refund_core.settings import settings

# A version may be published to take effect at most this far ahead.
FURTHEST_AHEAD = timedelta(days=3660)
# Between the moment a publication is timed and its transaction: what every function's cache may still lag.
PUBLICATION_MARGIN = timedelta(seconds=1)
# "Now" as a client's clock sends it may be this far behind ours (latency, skew): still now, not the past.
NOW_TOLERANCE = timedelta(minutes=5)


def _now() -> datetime:
    return datetime.now(UTC)


# ---- the policy in force ------------------------------------------------------------------------------


def versions(fresh: bool = False) -> list[PublishedPolicy]:
    """The published versions; the shipped document alone while none is stored."""
    return policy_store.published_versions(fresh) or [PublishedPolicy.first(shipped_policy())]


def in_force(at: datetime | None = None) -> Policy:
    """The policy in force at `at` (now when not given)."""
    version = document.in_force(versions(), at or _now())
    return (version or PublishedPolicy.first(shipped_policy())).document


def assessed_under(version: str, received_at: datetime) -> Policy:
    """The version a request was assessed under, by its name; one that is not stored (a first-release
    request's) is the version in force when the request was received."""
    named = next((published for published in versions() if published.version == version), None)
    return named.document if named else in_force(received_at)


# ---- the policy owners' actions ------------------------------------------------------------------------


class PolicyDraft(CamelModel):
    """A version being prepared: valid as a whole, in force nowhere, replaced by each save until published."""

    version: str
    saved_by: str
    saved_at: UtcDatetime
    document: Policy

    @classmethod
    def of(cls, stored: DraftRecord) -> PolicyDraft:
        return cls(version=stored.version, saved_by=stored.saved_by, saved_at=stored.saved_at, document=stored.document)


class AuditEntry(CamelModel):
    """One policy action, by whom and when, kept for good."""

    at: UtcDatetime
    by: str
    action: PolicyAction
    version: str
    detail: str | None = None

    @classmethod
    def of(cls, stored: AuditRecord) -> AuditEntry:
        return cls(at=stored.at, by=stored.by, action=stored.action, version=stored.version, detail=stored.detail)


class PolicyVersions(CamelModel):
    """`GET /policy`: the version in force, the earlier ones (latest first), those published to take effect
    later (soonest first), and the drafts."""

    in_force: PublishedPolicy
    earlier: tuple[PublishedPolicy, ...]
    scheduled: tuple[PublishedPolicy, ...]
    drafts: tuple[PolicyDraft, ...]


class SimulationPeriod(Period):
    """The requests a simulation runs the draft on."""


class Simulation(CamelModel):
    """What the draft would have made of the requests received in the period (API.md `simulate`)."""

    simulation_id: str
    version: str
    start: date = Field(alias="from")
    end: date = Field(alias="to")
    simulated_by: str
    simulated_at: UtcDatetime
    requests: int = Field(description="Requests received in the period")
    not_replayed: int = Field(
        description="Of those, assessed before every fact the rules read was recorded with the assessment"
    )
    cancelled: int = Field(description="Of those, withdrawn by their customers before a decision: not weighed")
    changed_count: int = Field(description="Requests whose outcome or suggested amount would change")
    changed: tuple[ChangedRequest, ...] = Field(description="The first 1,000 of them, in the order received")
    by_outcome: WasWould[dict[Outcome, int]]
    refunded: WasWould[tuple[Money, ...]] = Field(
        description="What the rules refund (full refunds and suggested partial ones), by currency"
    )

    @classmethod
    def of(cls, simulation_id: str, version: str, period: Period, *, by: str, at: datetime, tally: Tally) -> Simulation:
        return cls(
            simulation_id=simulation_id,
            version=version,
            start=period.start,
            end=period.end,
            simulated_by=by,
            simulated_at=at,
            requests=tally.requests,
            not_replayed=tally.not_replayed,
            cancelled=tally.cancelled,
            changed_count=tally.changed_count,
            changed=tuple(tally.changed),
            by_outcome=tally.by_outcome(),
            refunded=tally.refunded(),
        )


class Publication(CamelModel):
    effective_from: AwareDatetime = Field(
        description="When new requests are first assessed under it: now or later (with Z or an offset)"
    )

    @field_validator("effective_from")
    @classmethod
    def _plausible(cls, value: datetime) -> datetime:
        # Checked here, where a year 9999 with an offset cannot overflow a conversion to UTC later.
        if not 2000 <= value.year <= 2999:
            raise ValueError("must be a moment of the years 2000 to 2999")
        return value


class AuditTrail(CamelModel):
    items: tuple[AuditEntry, ...]
    next_token: str | None


def policy_owner_only(caller: Caller) -> None:
    if not caller.is_policy_owner:
        raise NotAPolicyOwner("only the refund policy's owners may read or change the policy")


def _entry(caller: Caller, at: datetime, action: PolicyAction, version: str, detail: str | None = None) -> AuditRecord:
    return AuditRecord(at=at, by=caller.username, action=action, version=version, detail=detail)


def _first_version_recorded(caller: Caller, at: datetime) -> None:
    """The shipped document becomes the first stored version before anything is published after it."""
    if policy_store.published_versions(fresh=True):
        return
    first = PublishedPolicy.first(shipped_policy())
    policy_store.record_first_version(first, _entry(caller, at, "first version recorded", first.version))


def policy_versions(caller: Caller, now: datetime | None = None) -> PolicyVersions:
    """A read, and only a read: before the first draft or publication, the shipped document (not stored yet)."""
    policy_owner_only(caller)
    at = now or _now()
    published = sorted(versions(fresh=True), key=lambda version: (version.effective_from, version.published_at))
    current = document.in_force(published, at) or published[0]
    position = published.index(current)
    return PolicyVersions(
        in_force=current,
        earlier=tuple(reversed(published[:position])),
        scheduled=tuple(published[position + 1 :]),
        drafts=tuple(PolicyDraft.of(stored) for stored in policy_store.drafts()),
    )


def save_draft(caller: Caller, version: str, sent: Policy, now: datetime | None = None) -> PolicyDraft:
    """Store a draft: a whole valid document (each invalid setting is the route's 400) of this policy,
    named by `version` in the path and in the document alike."""
    policy_owner_only(caller)
    at = now or _now()
    problems = []
    if sent.version != version:
        problems.append(("version", f"must be {version}, as in the path"))
    if sent.policy_id != shipped_policy().policy_id:
        problems.append(("policyId", f"must be {shipped_policy().policy_id}: a draft is a version of this policy"))
    problems += trial.problems(sent, shipped_policy(), at)
    if problems:
        raise InvalidSettings(problems)
    draft = DraftRecord(version=version, saved_by=caller.username, saved_at=at, document=sent)
    _first_version_recorded(caller, at)
    policy_store.save_draft(draft, _entry(caller, at, "draft saved", version))
    logger.info("policy draft saved", version=version)
    return PolicyDraft.of(draft)


def saved_draft(version: str) -> DraftRecord:
    draft = policy_store.get_draft(version)
    if draft is not None:
        return draft
    if any(published.version == version for published in versions(fresh=True)):
        raise Conflict(f"version {version} is published already", field="version")
    raise NotFound(f"no draft {version}")


def hong_kong_day_start(day: date) -> datetime:
    """The first moment of a calendar day in the policy's time zone (Hong Kong)."""
    return datetime.combine(day, time.min, tzinfo=ZoneInfo(in_force().time_zone))


def received_on_days_in_pages(first: date, last: date) -> Iterator[list[ReportedRequest]]:
    """The requests received from the Hong Kong day `first` to `last`, both included, oldest first, a page at a
    time."""
    return request_reads.received_in_pages(hong_kong_day_start(first), hong_kong_day_start(last + timedelta(days=1)))


def received_day_by_day(first: date, last: date, zone: ZoneInfo) -> Iterator[tuple[date, list[ReportedRequest]]]:
    """The same, a day of `zone` at a time: each day that received requests, with them (the oldest first, so
    that a day's requests come together), read a page at a time."""
    requests = chain.from_iterable(received_on_days_in_pages(first, last))
    for day, received in groupby(requests, key=lambda request: request.received_at.astimezone(zone).date()):
        yield day, list(received)


def received_on_days(first: date, last: date) -> list[ReportedRequest]:
    """The same, all at once."""
    return [request for page in received_on_days_in_pages(first, last) for request in page]


def to_replay_on_days(first: date, last: date) -> Iterator[RequestRecord]:
    """The requests received from the Hong Kong day `first` to `last`, both included, oldest first, each with the
    facts it was assessed on."""
    return request_reads.requests_to_replay(hong_kong_day_start(first), hong_kong_day_start(last + timedelta(days=1)))


def simulated_detail(first: date, last: date, tally: Tally) -> str:
    """A simulation's entry in the audit trail."""
    return f"{first} to {last}: {tally.requests} requests, {tally.changed_count} would change"


def simulate(caller: Caller, version: str, period: SimulationPeriod, now: datetime | None = None) -> Simulation:
    """Run the draft's rules again on every request received in the period, on the facts each was assessed
    on; nothing is written but the simulation's record (and its audit entry)."""
    policy_owner_only(caller)
    at = now or _now()
    draft = saved_draft(version)
    check_period(period.start, period.end, "simulation")
    tally = Tally()
    for request in to_replay_on_days(period.start, period.end):
        tally.add(request, request.facts, draft.document)
    simulation_id = f"{version}#{at.isoformat(timespec='milliseconds')}#{secrets.token_hex(4)}"
    simulation = Simulation.of(simulation_id, version, period, by=caller.username, at=at, tally=tally)
    detail = simulated_detail(period.start, period.end, tally)
    policy_store.record_simulation(simulation_id, simulation, _entry(caller, at, "simulated", version, detail))
    count("PolicySimulations")
    return simulation


def publish(caller: Caller, version: str, publication: Publication, now: datetime | None = None) -> PublishedPolicy:
    """The draft becomes a published version, in force from `effectiveFrom` (now or later), and never changes
    again. It takes effect no sooner than every function's cache of the versions has been refreshed."""
    policy_owner_only(caller)
    at = now or _now()
    requested = publication.effective_from
    if requested < at - NOW_TOLERANCE:
        raise InvalidInput(
            "effectiveFrom must be now or later: a version cannot apply to the past", field="effectiveFrom"
        )
    if requested > at + FURTHEST_AHEAD:
        raise InvalidInput("effectiveFrom must be within 10 years from now", field="effectiveFrom")
    draft = saved_draft(version)
    # Tried again: the code that will apply it may have changed since the draft was saved.
    if problems := trial.problems(draft.document, shipped_policy(), max(requested, at)):
        raise InvalidSettings(problems)
    _first_version_recorded(caller, at)
    # Timed after the reads, just before the write: a function that refreshed its cache meanwhile reads the
    # version no later than this moment plus its cache's age.
    written_at = now or _now()
    cached_for = timedelta(seconds=settings().policy_cache_seconds)
    published = PublishedPolicy(
        version=version,
        effective_from=max(requested, written_at + cached_for + PUBLICATION_MARGIN),
        published_by=caller.username,
        published_at=at,
        document=draft.document,
    )
    detail = f"in force from {published.effective_from.astimezone(UTC).isoformat(timespec='seconds')}"
    policy_store.publish(draft, published, _entry(caller, at, "published", version, detail))
    count("PolicyVersionsPublished")
    logger.info("policy version published", version=version, effective_from=published.effective_from.isoformat())
    return published


def audit_trail(caller: Caller, limit: int = 50, next_token: str | None = None) -> AuditTrail:
    policy_owner_only(caller)
    page: Page[AuditRecord] = policy_store.audit_trail(limit, next_token)
    return AuditTrail(items=tuple(AuditEntry.of(stored) for stored in page.items), next_token=page.next_token)
