"""The local runner's side of the web app: the files it serves (nothing outside web/app) and the local
sign-in, whose token carries the groups ticked."""

from __future__ import annotations

import json

import pytest

from refund_local.tokens import claims_from_authorization
from refund_local.webapp import SignInRefused, sign_in, web_file


def test_the_sign_in_token_carries_the_groups_ticked() -> None:
    token = sign_in(json.dumps({"username": "rosa", "reviewer": True, "policyOwner": True}).encode())
    claims = claims_from_authorization(f"Bearer {token}")
    assert claims["cognito:username"] == "rosa"
    assert claims["cognito:groups"] == "refund-reviewers,refund-policy-owners"
    assert claims["email_verified"] == "true"


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"username": ""}, "username"),
        ({"username": "has space"}, "username"),
        ({"username": "x" * 129}, "username"),
        ({"username": "ok", "reviewer": "yes"}, "reviewer"),
        ({"username": "ok", "admin": True}, "admin"),
        ({"username": "ok", "policyOwner": 1}, "policyOwner"),
        ({}, "username"),
    ],
)
def test_a_bad_sign_in_names_its_field(body: dict[str, object], field: str) -> None:
    with pytest.raises(SignInRefused) as refused:
        sign_in(json.dumps(body).encode())
    assert refused.value.field == field


def test_a_body_that_is_not_json_is_refused() -> None:
    with pytest.raises(SignInRefused, match="not JSON"):
        sign_in(b"{")


@pytest.mark.parametrize(
    "path", ["/", "/app/main.js", "/app/i18n/zh-HK.json", "/app/i18n/reasons/zh-HK.json", "/config.json"]
)
def test_the_apps_files_are_served(path: str) -> None:
    served = web_file(path)
    assert served is not None and served.body


@pytest.mark.parametrize(
    "path",
    [
        "/app/../../template.yaml",
        "/app/../index.html/..",
        "/app/",
        "/app/i18n",
        "/web/index.html",
        "/pyproject.toml",
        "/app/i18n/reasons/../../../../pyproject.toml",
        "/app/i18n/reasons/fr.json",
        "/app/i18n/reasons/",
    ],
)
def test_nothing_else_is(path: str) -> None:
    assert web_file(path) is None
