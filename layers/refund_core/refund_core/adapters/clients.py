"""AWS clients, made on first use and shared by the process (Lambda reuses them across invocations)."""

from __future__ import annotations

from functools import cache
from typing import TYPE_CHECKING, Any

import boto3
from botocore.config import Config

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient, DynamoDBServiceResource
    from mypy_boto3_events import EventBridgeClient
    from mypy_boto3_s3 import S3Client
    from mypy_boto3_ses import SESClient
    from mypy_boto3_sqs import SQSClient
    from mypy_boto3_stepfunctions import SFNClient

# Every client made that calls AWS, for `close_connections` (a resource's own client included; `s3_links` only
# signs).
_made: list[Any] = []


def _kept[Client](client: Client) -> Client:
    _made.append(client)
    return client


@cache
def dynamodb() -> DynamoDBClient:
    return _kept(boto3.client("dynamodb"))


@cache
def dynamodb_resource() -> DynamoDBServiceResource:
    """For Powertools' DynamoDB parameters provider, which reads through a resource: made from the default
    session (about 20 ms; the provider's own new session costs about 120 ms)."""
    resource = boto3.resource("dynamodb")
    _kept(resource.meta.client)
    return resource


@cache
def stepfunctions() -> SFNClient:
    return _kept(boto3.client("stepfunctions"))


@cache
def ses() -> SESClient:
    return _kept(boto3.client("ses"))


@cache
def eventbridge() -> EventBridgeClient:
    return _kept(boto3.client("events"))


@cache
def sqs() -> SQSClient:
    return _kept(boto3.client("sqs"))


@cache
def s3(region: str | None = None) -> S3Client:
    """`region`: the letters' bucket lives where SES receives mail, which may not be the service's region."""
    return _kept(boto3.client("s3", region_name=region) if region else boto3.client("s3"))


@cache
def s3_links(endpoint_url: str | None) -> S3Client:
    """Signs the evidence's upload and download links (no call is made): addressed by path where the endpoint is
    not S3's own (the local runner)."""
    if endpoint_url is None:
        return boto3.client("s3", config=Config(signature_version="s3v4", s3={"addressing_style": "virtual"}))
    return boto3.client(
        "s3", endpoint_url=endpoint_url, config=Config(signature_version="s3v4", s3={"addressing_style": "path"})
    )


def make_all() -> None:
    """Every client without a setting of its own made now (SnapStart's priming: about 10 ms each, once). The
    letters' `s3` names its region from the settings, and `s3_links` makes no call: both are made when used."""
    for client in (dynamodb, dynamodb_resource, stepfunctions, ses, eventbridge, sqs):
        client()


def close_connections() -> None:
    """Every client's sockets closed; each opens new ones at its next call, its service model kept (after a
    SnapStart restore: the snapshot's connections lead nowhere, and making the client again costs 10 ms)."""
    for client in _made:
        client.close()


def reset() -> None:
    """Forget the clients (tests and the local runner start a fresh emulated AWS)."""
    for client in (dynamodb, dynamodb_resource, stepfunctions, ses, eventbridge, sqs, s3, s3_links):
        client.cache_clear()
    _made.clear()
