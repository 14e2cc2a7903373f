"""After a deployment (.github/actions/deploy): the environment answers over HTTP as API.md and UI.md say, from
the outside, without anyone's credentials. The API refuses a caller without a token (401 from the Cognito
authorizer, JSON the web app can read: CORS for the web app's origin alone); a preflight from the web app is
answered; a preflight from another origin is not allowed; the web app's page and its config.json are served
and name this API.

    python scripts/smoke_test.py --api-url https://....execute-api.ap-southeast-1.amazonaws.com/v1 \\
        --web-app-url https://refunds.example.com/"""

from __future__ import annotations

import argparse
import json
import sys
import urllib.error
import urllib.request
from dataclasses import dataclass

TIMEOUT_SECONDS = 15


@dataclass(frozen=True)
class Answer:
    status: int
    headers: dict[str, str]
    body: bytes


def fetch(url: str, method: str = "GET", headers: dict[str, str] | None = None) -> Answer:
    request = urllib.request.Request(url, method=method, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=TIMEOUT_SECONDS) as response:
            return Answer(response.status, {k.lower(): v for k, v in response.headers.items()}, response.read())
    except urllib.error.HTTPError as error:
        return Answer(error.code, {k.lower(): v for k, v in error.headers.items()}, error.read())


def checks(api_url: str, web_app_url: str) -> list[tuple[str, bool]]:
    api, origin = api_url.rstrip("/"), web_app_url.rstrip("/")
    anonymous = fetch(f"{api}/refund-requests", headers={"Origin": origin})
    preflight = fetch(
        f"{api}/refund-requests",
        "OPTIONS",
        {"Origin": origin, "Access-Control-Request-Method": "POST", "Access-Control-Request-Headers": "authorization"},
    )
    stranger = fetch(
        f"{api}/refund-requests",
        "OPTIONS",
        {"Origin": "https://elsewhere.example", "Access-Control-Request-Method": "POST"},
    )
    page = fetch(f"{origin}/")
    config = fetch(f"{origin}/config.json")
    try:
        named_api = json.loads(config.body).get("apiBase", "").rstrip("/") == api
    except ValueError:
        named_api = False
    return [
        ("the API refuses a caller without a token (401)", anonymous.status == 401),
        ("... readable by the web app (CORS)", anonymous.headers.get("access-control-allow-origin") == origin),
        ("a preflight from the web app is answered", preflight.status in {200, 204}
         and preflight.headers.get("access-control-allow-origin") == origin),
        ("a preflight from another origin is not allowed", stranger.headers.get("access-control-allow-origin") != "https://elsewhere.example"),
        ("the web app's page is served", page.status == 200 and b"<html" in page.body.lower()),
        ("its config.json names this API", config.status == 200 and named_api),
    ]  # fmt: skip


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--api-url", required=True)
    parser.add_argument("--web-app-url", required=True)
    arguments = parser.parse_args(argv)
    results = checks(arguments.api_url, arguments.web_app_url)
    for what, passed in results:
        print(f"{'ok  ' if passed else 'FAIL'} {what}")
    return 0 if all(passed for _, passed in results) else 1


if __name__ == "__main__":
    sys.exit(main())
