"""Helpers for the API tests: customer records, events/ files aimed at real requests, calling handlers."""

from __future__ import annotations

import contextlib
import copy
import json
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email import policy as email_policy
from email.parser import BytesParser
from pathlib import Path
from typing import Any

import boto3
from botocore.exceptions import ClientError

from refund_core.adapters import clients, repository
from refund_core.app import claims
from refund_core.app.inputs import SubmitRefundRequest
from refund_core.http.identity import Caller
from refund_core.settings import settings
from refund_local.environment import REGION
from refund_local.events import api_event, claims_for, request_event
from refund_local.handlers import invoke
from refund_local.seed import parse_seed, write_seed
from refund_local.stack import LocalAws
from refund_local.stream import lambda_record

EVENTS = Path(__file__).resolve().parents[2] / "events"


def seed_order(
    order_id: str,
    username: str = "alice",
    *,
    days_ago: int = 40,
    amount: str = "100.00",
    currency: str = "USD",
    channel: str | None = "card",
    kind: str | None = "new",
    payment_state: str | None = "settled",
    traffic_bytes: int | None = 1_200_000_000,
    connections: int | None = 12,
    ticket_id: str | None = None,
    ticket_response: str | None = "cannot_fix",
    payment_reference: str | None = None,
) -> None:
    """A customer record, an order, its usage and (by default) a support ticket `T-<order_id>`, loaded as the
    local seed file is (None leaves a fact out: unknown)."""
    now = datetime.now(UTC)
    order = {
        "orderId": order_id,
        "username": username,
        "orderedAt": (now - timedelta(days=days_ago)).isoformat(),
        "amount": amount,
        "currency": currency,
        "paymentChannel": channel,
        "kind": kind,
        "servicePeriodDays": 365,
        "paymentState": payment_state,
        "trafficBytes": traffic_bytes,
        "connections": connections,
        "paymentReference": payment_reference,
    }
    ticket = {
        "ticketId": ticket_id or f"T-{order_id}",
        "username": username,
        "openedAt": (now - timedelta(days=2)).isoformat(),
        "category": "technical",
        "officialResponse": ticket_response,
    }
    document = {
        "customers": [{"username": username, "email": f"{username}@example.com"}],
        "orders": [{name: value for name, value in order.items() if value is not None}],
        "tickets": [ticket],
    }
    write_seed(parse_seed(document))


def record_event(detail_type: str, detail: dict[str, Any], source: str | None = None) -> bool:
    """One event of RECORDS.md, from the system that owns it, validated and applied as the records function
    does; True when it changed the records."""
    from refund_core.app.record_events import DETAIL_TYPES, apply_record_event, parse_record_event  # noqa: PLC0415

    envelope = {"source": source or DETAIL_TYPES[detail_type][1], "detail-type": detail_type, "detail": detail}
    return apply_record_event(parse_record_event(envelope))


def customer_upserted(username: str, email: str, **extra: Any) -> bool:
    """The accounts system's CustomerUpserted, as of now."""
    detail = {"username": username, "email": email, "asOf": datetime.now(UTC).isoformat(), **extra}
    return record_event("CustomerUpserted", detail)


def load_event(name: str) -> dict[str, Any]:
    return copy.deepcopy(json.loads((EVENTS / f"{name}.json").read_text(encoding="utf-8")))


def on_request(event: dict[str, Any], request_id: str) -> dict[str, Any]:
    """An events/ file aimed at a real request id instead of its placeholder."""
    placeholder = event["pathParameters"]["requestId"]
    event["pathParameters"]["requestId"] = request_id
    event["path"] = event["path"].replace(placeholder, request_id)
    event["requestContext"]["path"] = event["requestContext"]["path"].replace(placeholder, request_id)
    return event


def _function_of() -> dict[tuple[str, str], str]:
    """Each route of template.yaml's API events → its function's code."""
    from refund_local.provision import api_routes, load_template  # noqa: PLC0415

    return {(route.method, route.path): route.code_uri for route in api_routes(load_template())}


FUNCTION_OF = _function_of()


class Response:
    def __init__(self, raw: dict[str, Any]) -> None:
        self.status = raw["statusCode"]
        self.raw = raw
        is_json = raw.get("body") and not (self.header("Content-Type") or "").startswith("text/csv")
        self.json: Any = json.loads(raw["body"]) if is_json else None

    def header(self, name: str) -> str | None:
        headers = {key.lower(): value for key, value in (self.raw.get("headers") or {}).items()}
        for key, values in (self.raw.get("multiValueHeaders") or {}).items():
            headers.setdefault(key.lower(), values[0])
        return headers.get(name.lower())


def call(event: dict[str, Any]) -> Response:
    return Response(invoke(FUNCTION_OF[(event["httpMethod"], event["resource"])], event))


def file_request(username: str, order_id: str, reason: str = "It drops.") -> dict[str, Any]:
    """`username` sends a request for `order_id`, quoting its seeded ticket (`T-<order_id>`); the request as
    the API answered it (201)."""
    body = {"orderId": order_id, "reason": reason, "supportTicketId": f"T-{order_id}"}
    filed = call(api_event("POST", "/refund-requests", "/refund-requests", body=body, claims=claims_for(username)))
    assert filed.status == 201, filed.json
    return dict(filed.json)


def read_request(request_id: str, claims: dict[str, str]) -> dict[str, Any]:
    """GET /refund-requests/{requestId} as the caller of `claims`: the request as the API answered it (200)."""
    answer = call(request_event("GET", request_id, claims=claims))
    assert answer.status == 200, answer.json
    return dict(answer.json)


def requests_table_items() -> list[dict[str, Any]]:
    """Every item of the requests table, deserialized."""
    items = boto3.client("dynamodb", region_name=REGION).scan(TableName=settings().requests_table_name)["Items"]
    return [repository.deserialize(item) for item in items]


def table_stream_records() -> list[dict[str, Any]]:
    """Every record of the requests table's stream so far, as Lambda's event source passes them (unfiltered:
    the notifier ignores items other than requests)."""
    streams = boto3.client("dynamodbstreams", region_name=REGION)
    table = boto3.client("dynamodb", region_name=REGION).describe_table(TableName=settings().requests_table_name)
    stream_arn = table["Table"]["LatestStreamArn"]
    found: list[dict[str, Any]] = []
    for shard in streams.describe_stream(StreamArn=stream_arn)["StreamDescription"]["Shards"]:
        iterator = streams.get_shard_iterator(
            StreamArn=stream_arn, ShardId=shard["ShardId"], ShardIteratorType="TRIM_HORIZON"
        )["ShardIterator"]
        for record in streams.get_records(ShardIterator=iterator, Limit=1000)["Records"]:
            found.append(lambda_record(record, stream_arn, REGION))
    return found


@contextlib.contextmanager
def on_call(client: Any, event_name: str, hook: Callable[..., Any]) -> Iterator[None]:
    """`hook` registered on a botocore client's event (`before-call.ses.SendRawEmail`) for the block."""
    unique_id = f"test-{event_name}-{id(hook)}"
    client.meta.events.register(event_name, hook, unique_id=unique_id)
    try:
        yield
    finally:
        client.meta.events.unregister(event_name, unique_id=unique_id)


def aws_error(code: str, operation: str, message: str = "injected by the test") -> ClientError:
    return ClientError({"Error": {"Code": code, "Message": message}}, operation)


def each_in_a_thread(calls: list[Callable[[], Any]], *, released_together: bool = False) -> list[Any]:
    """Each call in its own thread (with `released_together`, held at a barrier until all are there); its
    result, or the exception it raised."""
    barrier = threading.Barrier(len(calls)) if released_together else None

    def run(call: Callable[[], Any]) -> Any:
        if barrier is not None:
            barrier.wait(timeout=10)
        try:
            return call()
        except Exception as error:  # the answer under test
            return error

    with ThreadPoolExecutor(max_workers=len(calls)) as pool:
        return list(pool.map(run, calls))


def stored(stack: LocalAws) -> dict[str, list[dict[str, Any]]]:
    """Every item the API writes (requests, their history and claims; idempotency records), in a stable order:
    compare before and after a call to show that it changed nothing."""
    return {
        table: sorted(clients.dynamodb().scan(TableName=stack.table_names[table])["Items"], key=json.dumps)
        for table in ("RequestsTable", "IdempotencyTable")
    }


@dataclass(frozen=True)
class SentEmail:
    to: tuple[str, ...]
    subject: str
    text: str
    html: str | None


def sent_emails() -> list[SentEmail]:
    """The messages in moto's SES backend, MIME messages read back into their text and HTML parts."""
    from moto.core.models import DEFAULT_ACCOUNT_ID  # noqa: PLC0415 - moto internals, only while it runs
    from moto.ses.models import RawMessage, ses_backends  # noqa: PLC0415

    emails: list[SentEmail] = []
    for message in list(ses_backends[DEFAULT_ACCOUNT_ID][REGION].sent_messages):
        if isinstance(message, RawMessage):
            parsed = BytesParser(policy=email_policy.default).parsebytes(message.raw_data.encode())
            text_part = parsed.get_body(preferencelist=("plain",))
            html_part = parsed.get_body(preferencelist=("html",))
            emails.append(
                SentEmail(
                    to=tuple(message.destinations),
                    subject=str(parsed["Subject"] or ""),
                    text=text_part.get_content() if text_part else "",
                    html=html_part.get_content() if html_part else None,
                )
            )
        else:
            destinations = getattr(message, "destinations", {}) or {}
            emails.append(
                SentEmail(
                    to=tuple(destinations.get("ToAddresses", [])),
                    subject=str(getattr(message, "subject", "")),
                    text=str(getattr(message, "body", "")),
                    html=None,
                )
            )
    return emails


# ---- the pipeline of what requests owe: stream → notifier → delivery queue → outbox ---------------------


def put_images(event: dict[str, Any]) -> None:
    """Every new image of a stream event into the requests table, as the change's transaction wrote them."""
    dynamodb = boto3.client("dynamodb", region_name=REGION)
    for record in event["Records"]:
        if image := record["dynamodb"].get("NewImage"):
            dynamodb.put_item(TableName=settings().requests_table_name, Item=image)


def notifier_records(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The records the notifier's event source passes (its FilterCriteria in template.yaml)."""
    from refund_local.provision import load_template  # noqa: PLC0415
    from refund_local.stream import matches, stream_sources  # noqa: PLC0415

    (source,) = [source for source in stream_sources(load_template()) if source.function == "NotifierFunction"]
    return [record for record in records if any(matches(pattern, record) for pattern in source.filter_patterns)]


def queued_bodies(queue_url: str) -> list[dict[str, Any]]:
    """A queue's messages (received and left there), bodies parsed."""
    sqs = boto3.client("sqs", region_name=REGION)
    found: dict[str, dict[str, Any]] = {}
    for _ in range(5):
        messages = sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10, VisibilityTimeout=0).get(
            "Messages", []
        )
        found |= {message["MessageId"]: json.loads(message["Body"]) for message in messages}
        if not messages:
            break
    return list(found.values())


def queued_deliveries() -> list[dict[str, Any]]:
    """The delivery queue's messages (received and left there), bodies parsed."""
    return queued_bodies(settings().delivery_queue_url)


def deliver_queued(rounds: int = 3) -> list[dict[str, Any]]:
    """What the delivery queue holds, handed to the outbox function as its event source would (successes
    deleted, failures left to come back after their backoff); returns the function's answers."""
    from refund_local.queues import sqs_event  # noqa: PLC0415

    sqs = boto3.client("sqs", region_name=REGION)
    queue_url = settings().delivery_queue_url
    arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    answers: list[dict[str, Any]] = []
    for _ in range(rounds):
        messages = sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10, AttributeNames=["All"]).get(
            "Messages", []
        )
        if not messages:
            break
        answer = invoke("functions/outbox/", sqs_event(messages, arn))
        answers.append(answer)
        failed = {item["itemIdentifier"] for item in answer.get("batchItemFailures", [])}
        for message in messages:
            if message["MessageId"] not in failed:
                sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"])
    return answers


def deliver_all() -> None:
    """Everything the requests table's stream calls for, done: the notifier on the stream (filtered as
    template.yaml says), then every delivery it queued."""
    records = notifier_records(table_stream_records())
    if records:
        assert invoke("functions/notifier/", {"Records": records}) == {"batchItemFailures": []}
    deliver_queued()


def owed_items(request_id: str) -> dict[str, dict[str, Any]]:
    """The request's owed effects, by effect."""
    response = boto3.client("dynamodb", region_name=REGION).query(
        TableName=settings().requests_table_name,
        KeyConditionExpression="pk = :pk AND begins_with(sk, :owed)",
        ExpressionAttributeValues={":pk": {"S": f"REQUEST#{request_id}"}, ":owed": {"S": "OWED#"}},
        ConsistentRead=True,
    )
    items = [repository.deserialize(item) for item in response["Items"]]
    return {item["effect"]: item for item in items}


def customer(username: str) -> Caller:
    """A customer as the authorizer names them."""
    return Caller(username=username, email=f"{username}@example.com", groups=frozenset())


def seed_claim(username: str, order_id: str, *, received_at: datetime, age_days: int, **order: Any) -> None:
    """A customer with one order placed `age_days` before `received_at`, and a ticket support answered before."""
    write_seed(
        parse_seed(
            {
                "customers": [{"username": username, "email": f"{username}@example.com"}],
                "orders": [
                    {
                        "orderId": order_id,
                        "username": username,
                        "orderedAt": (received_at - timedelta(days=age_days)).isoformat(),
                        "amount": "100.00",
                        "currency": "USD",
                        "paymentChannel": "card",
                        "kind": "new",
                        "servicePeriodDays": 365,
                        "paymentState": "settled",
                        "connections": 3,
                    }
                    | order
                ],
                "tickets": [
                    {
                        "ticketId": f"T-{order_id}",
                        "username": username,
                        "openedAt": (received_at - timedelta(days=1)).isoformat(),
                        "category": "technical",
                        "officialResponse": "cannot_fix",
                    }
                ],
            }
        )
    )


def file_claim(username: str, order_id: str, received_at: datetime) -> dict[str, Any]:
    command = SubmitRefundRequest(order_id=order_id, reason="It drops.", support_ticket_id=f"T-{order_id}")
    resource = claims.submit_refund_request(customer(username), command, now=received_at)
    return resource.model_dump(mode="json", by_alias=True)


@dataclass(frozen=True)
class JobQueue:
    """A long job's queue (the decisions exports', the policy simulations') and the function its event source
    hands it to."""

    url: str
    function: str

    @classmethod
    def of(cls, url: str | None, function: str) -> JobQueue:
        assert url is not None
        return cls(url, function)

    def arn(self) -> str:
        sqs = boto3.client("sqs", region_name=REGION)
        return str(sqs.get_queue_attributes(QueueUrl=self.url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"])

    def queued(self) -> list[dict[str, Any]]:
        answer = boto3.client("sqs", region_name=REGION).receive_message(QueueUrl=self.url, MaxNumberOfMessages=10)
        return list(answer.get("Messages", []))

    def deliver(self, message: dict[str, Any]) -> Any:
        """One delivery of a message to the function, as its event source gives it (one message a batch)."""
        from refund_local.queues import sqs_event  # noqa: PLC0415

        return invoke(self.function, sqs_event([message], self.arn()))

    def run(self, most: int = 40) -> int:
        """The queue handed to its function until it is empty or `most` invocations have run; how many that
        took. Each invocation has 30 s left: less than a job keeps for its next stretch, so each stops after one
        and queues the rest."""
        sqs = boto3.client("sqs", region_name=REGION)
        runs = 0
        while runs < most and (messages := self.queued()):
            for message in messages:
                assert self.deliver(message) == {"batchItemFailures": []}
                sqs.delete_message(QueueUrl=self.url, ReceiptHandle=message["ReceiptHandle"])
                runs += 1
        return runs


def sent_twice(write: Callable[..., Any]) -> Callable[..., Any]:
    """A call sent again, as botocore sends it when its answer is lost: what the second try answers."""

    def twice(*arguments: Any, **keywords: Any) -> Any:
        write(*arguments, **keywords)
        return write(*arguments, **keywords)

    return twice


@dataclass(frozen=True)
class JobRoutes:
    """A long job's routes: its list at `path`, one job at `path/{<id_name>}`, as `claims` by default."""

    path: str
    id_name: str
    claims: dict[str, str]

    def status(self, job_id: str, claims: dict[str, str] | None = None) -> Response:
        resource, path = f"{self.path}/{{{self.id_name}}}", f"{self.path}/{job_id}"
        parameters = {self.id_name: job_id}
        return call(api_event("GET", resource, path, path_parameters=parameters, claims=claims or self.claims))

    def listed(self, claims: dict[str, str] | None = None) -> Response:
        return call(api_event("GET", self.path, self.path, claims=claims or self.claims))
