"""The policy table: the versions the policy owners published, their drafts, the simulations they ran (at once,
or as jobs) and the audit trail of every policy action. The one module that knows its keys and conditions.

Every item is `pk` (what kind) / `sk` (which) / `value` (the record as JSON), the layout of Powertools'
DynamoDB parameters provider: the functions read the published versions through it, cached for
`policy_cache_seconds`, so a version published without a deploy is read within that time. A published version
is written once (`attribute_not_exists`) and never updated; the audit trail is only ever added to."""

from __future__ import annotations

import json
import secrets
import time
from datetime import datetime
from functools import cache
from typing import TYPE_CHECKING, Any, Literal

from aws_lambda_powertools.utilities.parameters import DynamoDBProvider, GetParameterError
from botocore.exceptions import ClientError
from pydantic import BaseModel, Field, TypeAdapter

from refund_core.adapters import clients
from refund_core.adapters.dynamo import THROTTLED, Page, call, decode_token, encode_token, query_all, stored, written
from refund_core.adapters.dynamo import busy as _busy
from refund_core.adapters.records import JobRecord
from refund_core.errors import Conflict
from refund_core.policy.document import Policy, PublishedPolicy
from refund_core.policy.models import CamelModel, UtcDatetime, utc_iso
from refund_core.policy.simulation import Tally
from refund_core.settings import settings

if TYPE_CHECKING:
    from mypy_boto3_dynamodb.type_defs import TransactWriteItemTypeDef

PUBLISHED = "POLICY#PUBLISHED"
DRAFTS = "POLICY#DRAFT"
SIMULATIONS = "POLICY#SIMULATION"
SIMULATION_JOBS = "POLICY#SIMULATION-JOB"
AUDIT = "POLICY#AUDIT"

PolicyAction = Literal["first version recorded", "draft saved", "simulated", "published"]


class DraftRecord(CamelModel):
    """A version being prepared: valid as a whole, in force nowhere, replaced by each save until published."""

    version: str
    saved_by: str
    saved_at: UtcDatetime
    document: Policy


class AuditRecord(CamelModel):
    """One policy action, by whom and when, kept for good."""

    at: UtcDatetime
    by: str
    action: PolicyAction
    version: str
    detail: str | None = None


class SimulationJobRecord(JobRecord):
    """A simulation run as a job (app/policy_simulations.py), as the job moves it on: the draft as it was saved
    when the job was asked for, and what it has counted of the days before `next_day`."""

    simulation_id: str
    version: str
    document: Policy
    # Every change is made on the condition that the revision is the one read (`job_moved_on`).
    revision: int = 0
    tally: Tally = Field(default_factory=Tally)


_VERSIONS = TypeAdapter(dict[str, PublishedPolicy])


@cache
def _provider() -> DynamoDBProvider:
    return DynamoDBProvider(
        table_name=settings().policy_table_name, key_attr="pk", sort_attr="sk", boto3_client=clients.dynamodb_resource()
    )


def versions_client() -> Any:
    """The DynamoDB client the provider reads through (its own, made by the provider's boto3 resource)."""
    return _provider().table.meta.client


def forget_cached_versions() -> None:
    """Tests and the local runner start a fresh emulated AWS: the provider and what it cached go with it."""
    _provider.cache_clear()


def published_versions(fresh: bool = False) -> list[PublishedPolicy]:
    """Every published version, as read at most `policy_cache_seconds` ago (one Query per refresh), or read
    now when `fresh`."""
    try:
        raw = _provider().get_multiple(
            PUBLISHED, max_age=settings().policy_cache_seconds, force_fetch=fresh, ConsistentRead=True
        )
    except GetParameterError as error:
        cause = error.__context__
        if isinstance(cause, ClientError) and cause.response["Error"]["Code"] in THROTTLED:
            raise _busy(cause) from cause
        raise
    return list(_validated(tuple(sorted(raw.items()))).values())


@cache
def _validated(raw: tuple[tuple[str, str], ...]) -> dict[str, PublishedPolicy]:
    # The same versions are read again every refresh: each distinct set is validated once per process.
    return _VERSIONS.validate_python({version: json.loads(text) for version, text in raw})


def _key(kind: str, name: str) -> dict[str, Any]:
    return {"pk": {"S": kind}, "sk": {"S": name}}


def _put(kind: str, name: str, record: BaseModel, condition: str | None = None) -> TransactWriteItemTypeDef:
    put: dict[str, Any] = {
        "TableName": settings().policy_table_name,
        "Item": _key(kind, name) | {"value": {"S": record.model_dump_json(by_alias=True)}},
    }
    if condition:
        put["ConditionExpression"] = condition
    return {"Put": put}  # type: ignore[typeddict-item]


def _audit(entry: AuditRecord) -> TransactWriteItemTypeDef:
    # The write's own nanoseconds order the entries of one action (which share its moment), a random suffix
    # keeps two writers apart; the condition makes the trail add-only.
    name = f"{utc_iso(entry.at)}#{time.time_ns():020d}#{secrets.token_hex(4)}"
    return _put(AUDIT, name, entry, "attribute_not_exists(pk)")


def _transact(writes: list[TransactWriteItemTypeDef]) -> list[str]:
    """The writes as one transaction; the code of each write of a cancelled one ("None" for those that would
    have gone through), or [] when written. Throttling is a 503, a clash with another transaction a 409."""
    try:
        call("transact_write_items", TransactItems=writes)
    except ClientError as error:
        if error.response["Error"]["Code"] != "TransactionCanceledException":
            raise
        codes = [str(reason.get("Code", "None")) for reason in error.response.get("CancellationReasons", [])]
        if any(code in THROTTLED or code == "ThrottlingError" for code in codes):
            raise _busy(error) from error
        if not codes or set(codes) - {"None", "ConditionalCheckFailed"}:
            raise Conflict("another policy action came at the same moment; try again", code="try_again") from error
        return codes
    return []


def record_first_version(first: PublishedPolicy, entry: AuditRecord) -> None:
    """Store the shipped document as the first version, once: nothing when it is stored already."""
    codes = _transact([_put(PUBLISHED, first.version, first, "attribute_not_exists(pk)"), _audit(entry)])
    if codes and codes[0] != "ConditionalCheckFailed":
        raise Conflict("another policy action came at the same moment; try again", code="try_again")
    _provider().clear_cache()  # type: ignore[no-untyped-call]


def save_draft(draft: DraftRecord, entry: AuditRecord) -> None:
    """Store (or replace) a draft, unless a version of that name is published (409)."""
    codes = _transact(
        [
            {
                "ConditionCheck": {
                    "TableName": settings().policy_table_name,
                    "Key": _key(PUBLISHED, draft.version),
                    "ConditionExpression": "attribute_not_exists(pk)",
                }
            },
            _put(DRAFTS, draft.version, draft),
            _audit(entry),
        ]
    )
    if codes and codes[0] == "ConditionalCheckFailed":
        raise Conflict(f"version {draft.version} is published; a published version cannot be changed", "version")
    if codes:
        raise Conflict("another policy action came at the same moment; try again", code="try_again")


def get_draft(version: str) -> DraftRecord | None:
    response = call("get_item", TableName=settings().policy_table_name, Key=_key(DRAFTS, version), ConsistentRead=True)
    item = response.get("Item")
    return DraftRecord.model_validate_json(item["value"]["S"]) if item else None


def drafts() -> tuple[DraftRecord, ...]:
    """Every draft, by version name (a handful: each is published or replaced)."""
    found = query_all(
        {
            "TableName": settings().policy_table_name,
            "KeyConditionExpression": "pk = :drafts",
            "ExpressionAttributeValues": {":drafts": {"S": DRAFTS}},
            "ConsistentRead": True,
        }
    )
    return tuple(DraftRecord.model_validate_json(item["value"]) for item in found)


def publish(draft: DraftRecord, published: PublishedPolicy, entry: AuditRecord) -> None:
    """The draft becomes the published version, in one transaction: only if the draft is still as read (not
    saved again meanwhile) and no version of its name is published; the draft is gone once published."""
    codes = _transact(
        [
            _put(PUBLISHED, published.version, published, "attribute_not_exists(pk)"),
            {
                "Delete": {
                    "TableName": settings().policy_table_name,
                    "Key": _key(DRAFTS, draft.version),
                    "ConditionExpression": "#value = :read",
                    "ExpressionAttributeNames": {"#value": "value"},
                    "ExpressionAttributeValues": {":read": {"S": draft.model_dump_json(by_alias=True)}},
                }
            },
            _audit(entry),
        ]
    )
    if codes and codes[0] == "ConditionalCheckFailed":
        raise Conflict(f"version {published.version} is published already", "version")
    if codes and codes[1] == "ConditionalCheckFailed":
        raise Conflict(f"draft {draft.version} was saved again meanwhile: look at it again before publishing")
    if codes:
        raise Conflict("another policy action came at the same moment; try again", code="try_again")
    _provider().clear_cache()  # type: ignore[no-untyped-call]


def record_simulation(simulation_id: str, simulation: BaseModel, entry: AuditRecord) -> None:
    if _transact([_put(SIMULATIONS, simulation_id, simulation, "attribute_not_exists(pk)"), _audit(entry)]):
        raise Conflict("another policy action came at the same moment; try again", code="try_again")


def audit_trail(limit: int, next_token: str | None) -> Page[AuditRecord]:
    """The policy actions, newest first."""
    arguments: dict[str, Any] = {
        "TableName": settings().policy_table_name,
        "KeyConditionExpression": "pk = :audit",
        "ExpressionAttributeValues": {":audit": {"S": AUDIT}},
        "ScanIndexForward": False,
        "Limit": limit,
        "ConsistentRead": True,
    }
    if next_token:
        arguments["ExclusiveStartKey"] = decode_token(next_token, {"pk", "sk"}, ("pk", AUDIT))
    response = call("query", **arguments)
    items = tuple(AuditRecord.model_validate_json(item["value"]["S"]) for item in response.get("Items", []))
    last = response.get("LastEvaluatedKey")
    return Page(items=items, next_token=encode_token(last) if last else None)


def _job_put(job: SimulationJobRecord, read: SimulationJobRecord | None) -> TransactWriteItemTypeDef:
    """The job's item, first written or one revision on from `read` (on the condition it is still as read)."""
    put: dict[str, Any] = {"TableName": settings().policy_table_name, "ConditionExpression": "attribute_not_exists(pk)"}
    if read is not None:
        job = job.model_copy(update={"revision": read.revision + 1})
        put["ConditionExpression"] = "#revision = :read"
        put["ExpressionAttributeNames"] = {"#revision": "revision"}
        put["ExpressionAttributeValues"] = {":read": {"N": str(read.revision)}}
    value = {"value": {"S": job.model_dump_json(by_alias=True)}, "revision": {"N": str(job.revision)}}
    put["Item"] = _key(SIMULATION_JOBS, job.simulation_id) | value
    return {"Put": put}  # type: ignore[typeddict-item]


def create_simulation_job(job: SimulationJobRecord) -> None:
    put = _job_put(job, None)["Put"]
    if not written("put_item", **put) and not stored(put["TableName"], put["Item"]):
        raise Conflict("another simulation came at the same moment; try again", code="try_again")


def job_moved_on(read: SimulationJobRecord, new: SimulationJobRecord, entry: AuditRecord | None = None) -> bool:
    """`new` (one revision on) in place of `read`, with `entry` in the audit trail in the same transaction;
    False when the job has moved on since `read` was read (another delivery of it)."""
    put = _job_put(new, read)
    if entry is None:
        moved = written("put_item", **put["Put"])
    else:
        codes = _transact([put, _audit(entry)])
        if codes and codes[0] != "ConditionalCheckFailed":
            raise Conflict("another policy action came at the same moment; try again", code="try_again")
        moved = not codes
    return moved or stored(put["Put"]["TableName"], put["Put"]["Item"])


def simulation_job(simulation_id: str) -> SimulationJobRecord | None:
    key = _key(SIMULATION_JOBS, simulation_id)
    item = call("get_item", TableName=settings().policy_table_name, Key=key, ConsistentRead=True).get("Item")
    return SimulationJobRecord.model_validate_json(item["value"]["S"]) if item else None


def recent_simulation_jobs(since: datetime) -> list[SimulationJobRecord]:
    """The jobs asked for since `since`, newest first (their ids begin with the moment they were asked)."""
    found = query_all(
        {
            "TableName": settings().policy_table_name,
            "KeyConditionExpression": "pk = :jobs AND sk >= :since",
            "ExpressionAttributeValues": {
                ":jobs": {"S": SIMULATION_JOBS},
                ":since": {"S": since.strftime("%Y%m%dT%H%M%S")},
            },
            "ScanIndexForward": False,
            "ConsistentRead": True,
        }
    )
    return [SimulationJobRecord.model_validate_json(item["value"]) for item in found]
