"""AWS clients, made on first use and shared by the process (Lambda reuses them across invocations)."""

from __future__ import annotations

from functools import cache
from typing import TYPE_CHECKING

import boto3
from botocore.config import Config

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient, DynamoDBServiceResource
    from mypy_boto3_events import EventBridgeClient
    from mypy_boto3_s3 import S3Client
    from mypy_boto3_ses import SESClient
    from mypy_boto3_sqs import SQSClient
    from mypy_boto3_stepfunctions import SFNClient


@cache
def dynamodb() -> DynamoDBClient:
    return boto3.client("dynamodb")


@cache
def dynamodb_resource() -> DynamoDBServiceResource:
    """For Powertools' DynamoDB parameters provider, which reads through a resource: made from the default
    session (about 20 ms; the provider's own new session costs about 120 ms)."""
    return boto3.resource("dynamodb")


@cache
def stepfunctions() -> SFNClient:
    return boto3.client("stepfunctions")


@cache
def ses() -> SESClient:
    return boto3.client("ses")


@cache
def eventbridge() -> EventBridgeClient:
    return boto3.client("events")


@cache
def sqs() -> SQSClient:
    return boto3.client("sqs")


@cache
def s3(region: str | None = None) -> S3Client:
    """`region`: the letters' bucket lives where SES receives mail, which may not be the service's region."""
    return boto3.client("s3", region_name=region) if region else boto3.client("s3")


@cache
def s3_links(endpoint_url: str | None) -> S3Client:
    """Signs the evidence's upload and download links (no call is made): addressed by path where the endpoint is
    not S3's own (the local runner)."""
    if endpoint_url is None:
        return boto3.client("s3", config=Config(signature_version="s3v4", s3={"addressing_style": "virtual"}))
    return boto3.client(
        "s3", endpoint_url=endpoint_url, config=Config(signature_version="s3v4", s3={"addressing_style": "path"})
    )


def reset() -> None:
    """Forget the clients (tests and the local runner start a fresh emulated AWS)."""
    for client in (dynamodb, dynamodb_resource, stepfunctions, ses, eventbridge, sqs, s3, s3_links):
        client.cache_clear()
