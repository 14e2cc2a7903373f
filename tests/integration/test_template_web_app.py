"""template.yaml's web app (UI.md "Where it runs"): a private bucket read by CloudFront alone, HTTPS only, the
strict Content-Security-Policy (the same as the local runner's), the hosted sign-in with code and PKCE, and
the API allowing that one origin."""

from __future__ import annotations

from typing import Any

import pytest

from refund_local.provision import load_template
from refund_local.webapp import CONTENT_SECURITY_POLICY

APP_ORIGIN = {"Fn::Sub": "https://${WebAppDomainName}"}


@pytest.fixture(scope="module")
def resources() -> dict[str, Any]:
    resources: dict[str, Any] = load_template()["Resources"]
    return resources


def directives(policy: str) -> dict[str, list[str]]:
    parsed = (part.split() for part in policy.split(";") if part.strip())
    return {name: sources for name, *sources in parsed}


def test_the_bucket_is_private_and_read_by_the_distribution_alone(resources: dict[str, Any]) -> None:
    bucket = resources["WebBucket"]["Properties"]
    assert all(bucket["PublicAccessBlockConfiguration"].values())
    (allow,) = [
        statement
        for statement in resources["WebBucketPolicy"]["Properties"]["PolicyDocument"]["Statement"]
        if statement["Effect"] == "Allow"
    ]
    assert allow["Principal"] == {"Service": "cloudfront.amazonaws.com"} and allow["Action"] == "s3:GetObject"
    assert "distribution/${WebDistribution}" in allow["Condition"]["StringEquals"]["AWS:SourceArn"]["Fn::Sub"]
    (origin,) = resources["WebDistribution"]["Properties"]["DistributionConfig"]["Origins"]
    assert origin["OriginAccessControlId"] == {"Fn::GetAtt": ["WebOriginAccessControl", "Id"]}
    assert resources["WebOriginAccessControl"]["Properties"]["OriginAccessControlConfig"]["SigningBehavior"] == "always"


def test_https_only_with_the_strict_content_security_policy(resources: dict[str, Any]) -> None:
    behaviour = resources["WebDistribution"]["Properties"]["DistributionConfig"]["DefaultCacheBehavior"]
    assert behaviour["ViewerProtocolPolicy"] == "redirect-to-https"
    assert behaviour["ResponseHeadersPolicyId"] == {"Ref": "WebResponseHeadersPolicy"}
    headers = resources["WebResponseHeadersPolicy"]["Properties"]["ResponseHeadersPolicyConfig"]
    csp = headers["SecurityHeadersConfig"]["ContentSecurityPolicy"]
    assert csp["Override"] is True
    deployed, local = directives(csp["ContentSecurityPolicy"]["Fn::Sub"]), directives(CONTENT_SECURITY_POLICY)
    assert "unsafe" not in csp["ContentSecurityPolicy"]["Fn::Sub"]
    # The same policy but where the API and the sign-in live: locally both are the runner's own origin.
    for name in set(deployed) | set(local):
        if name not in ("connect-src", "form-action", "upgrade-insecure-requests"):
            assert deployed.get(name) == local.get(name), name
    assert deployed["script-src"] == ["'self'"] and deployed["frame-ancestors"] == ["'none'"]
    assert deployed["connect-src"] == [
        "'self'",
        "https://${RefundsApi}.execute-api.${AWS::Region}.${AWS::URLSuffix}",
        "https://${EvidenceBucket.RegionalDomainName}",  # the files' uploads go straight to the evidence bucket
        "https://${SignInDomainPrefix}-${AWS::AccountId}.auth.${AWS::Region}.amazoncognito.com",
    ]
    config = resources["WebDistribution"]["Properties"]["DistributionConfig"]
    assert config["Aliases"] == [{"Ref": "WebAppDomainName"}]
    assert config["ViewerCertificate"]["MinimumProtocolVersion"] == "TLSv1.2_2021"


def test_the_hosted_sign_in_is_code_with_pkce_back_to_the_app(resources: dict[str, Any]) -> None:
    client = resources["WebAppClient"]["Properties"]
    assert client["AllowedOAuthFlows"] == ["code"] and client["GenerateSecret"] is False
    assert client["CallbackURLs"] == [{"Fn::Sub": "https://${WebAppDomainName}/"}]
    assert resources["UserPoolDomain"]["Properties"]["Domain"] == {"Fn::Sub": "${SignInDomainPrefix}-${AWS::AccountId}"}


def test_the_api_allows_the_apps_origin_alone(resources: dict[str, Any]) -> None:
    api = resources["RefundsApi"]["Properties"]
    quoted = {"Fn::Sub": "'https://${WebAppDomainName}'"}
    assert api["Cors"]["AllowOrigin"] == quoted
    assert "Idempotency-Key" in api["Cors"]["AllowHeaders"]
    for answer in api["GatewayResponses"].values():
        assert answer["ResponseParameters"]["Headers"]["Access-Control-Allow-Origin"] == quoted
    assert api["Auth"]["AddDefaultAuthorizerToCorsPreflight"] is False
    variables = load_template()["Globals"]["Function"]["Environment"]["Variables"]
    assert variables["WEB_APP_ORIGIN"] == APP_ORIGIN
