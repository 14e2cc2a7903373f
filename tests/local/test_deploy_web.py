"""`refund-ops deploy-web`: the stack's outputs become the app's config.json, every file lands in the bucket
with its type, and CloudFront is told to forget the old ones (moto's S3 and CloudFront)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from moto import mock_aws

from refund_ops.deploy_web import MissingOutput, deploy, web_files, web_target

OUTPUTS = {
    "WebBucketName": "refunds-web",
    "WebDistributionId": "PLACEHOLDER",
    "ApiUrl": "https://abc123.execute-api.ap-southeast-1.amazonaws.com/v1",
    "SignInDomain": "https://smart-security-refunds.auth.ap-southeast-1.amazoncognito.com",
    "WebAppClientId": "client123",
    "WebAppUrl": "https://d111.cloudfront.net/",
}


@pytest.fixture
def aws() -> Iterator[dict[str, Any]]:
    with mock_aws():
        s3 = boto3.client("s3", region_name="us-east-1")
        s3.create_bucket(Bucket="refunds-web")
        cloudfront = boto3.client("cloudfront", region_name="us-east-1")
        origin = {
            "Id": "web",
            "DomainName": "refunds-web.s3.amazonaws.com",
            "S3OriginConfig": {"OriginAccessIdentity": ""},
        }
        created = cloudfront.create_distribution(
            DistributionConfig={
                "CallerReference": "test",
                "Origins": {"Quantity": 1, "Items": [origin]},
                "DefaultCacheBehavior": {"TargetOriginId": "web", "ViewerProtocolPolicy": "redirect-to-https"},
                "Comment": "",
                "Enabled": True,
            }
        )
        yield {"s3": s3, "cloudfront": cloudfront, "distribution": created["Distribution"]["Id"]}


def test_the_outputs_make_the_apps_configuration() -> None:
    target = web_target(OUTPUTS)
    assert target.config == {
        "auth": "cognito",
        "apiBase": "https://abc123.execute-api.ap-southeast-1.amazonaws.com/v1",
        "domain": "https://smart-security-refunds.auth.ap-southeast-1.amazoncognito.com",
        "clientId": "client123",
        "redirectUri": "https://d111.cloudfront.net/",
    }
    assert web_target(OUTPUTS | {"WebAppClientId": ""}, client_id="theirs").config["clientId"] == "theirs"


def test_a_stack_without_the_outputs_is_told_which() -> None:
    with pytest.raises(MissingOutput, match=r"WebBucketName.*WebAppClientId"):
        web_target({key: value for key, value in OUTPUTS.items() if key not in ("WebBucketName", "WebAppClientId")})


def test_every_file_lands_with_its_type_and_the_distribution_is_invalidated(aws: dict[str, Any]) -> None:
    target = web_target(OUTPUTS | {"WebDistributionId": aws["distribution"]})
    written = deploy(aws["s3"], aws["cloudfront"], target)
    assert set(written) == set(web_files()) | {"config.json"}
    assert {"index.html", "app/main.js", "app/styles.css", "app/i18n/en.json", "app/i18n/zh-HK.json"} <= set(written)
    assert {"app/i18n/reasons/en.json", "app/i18n/reasons/zh-HK.json"} <= set(written)  # the layer's, as served
    page = aws["s3"].get_object(Bucket="refunds-web", Key="index.html")
    assert page["ContentType"] == "text/html; charset=utf-8"
    script = aws["s3"].get_object(Bucket="refunds-web", Key="app/main.js")
    assert script["ContentType"] == "text/javascript; charset=utf-8"
    config = json.loads(aws["s3"].get_object(Bucket="refunds-web", Key="config.json")["Body"].read())
    assert config["auth"] == "cognito" and config["apiBase"].endswith("/v1")
    invalidations = aws["cloudfront"].list_invalidations(DistributionId=aws["distribution"])
    assert invalidations["InvalidationList"]["Quantity"] == 1
