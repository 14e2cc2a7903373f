"""The web app (web/) as the local runner serves it: the same files as the deployed bucket, with the same
Content-Security-Policy as CloudFront's response headers policy, `config.json` saying "local sign-in", and
the local sign-in itself (POST /_local/sign-in: an unsigned token, local only, like `refund-local token`)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, ValidationError

from refund_local.events import claims_for
from refund_local.paths import REPO_ROOT
from refund_local.tokens import make_token

WEB_DIR = REPO_ROOT / "web"
# The rules' reasons in each language: the layer's catalogues, which the emails render too, served to the app.
REASONS_DIR = REPO_ROOT / "layers" / "refund_core" / "refund_core" / "policy" / "reasons"
REASONS_PREFIX = "app/i18n/reasons/"
CONTENT_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".json": "application/json; charset=utf-8",
}
# As template.yaml's WebResponseHeadersPolicy, but for connect-src: locally the API is this same origin.
CONTENT_SECURITY_POLICY = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; connect-src 'self'; "
    "manifest-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)
SECURITY_HEADERS = [
    ("Content-Security-Policy", CONTENT_SECURITY_POLICY),
    ("X-Content-Type-Options", "nosniff"),
    ("Referrer-Policy", "no-referrer"),
    ("X-Frame-Options", "DENY"),
    ("Cache-Control", "no-cache"),
]
LOCAL_CONFIG = {"auth": "local", "apiBase": ""}


@dataclass(frozen=True)
class WebFile:
    body: bytes
    content_type: str


def web_file(path: str) -> WebFile | None:
    """`/` is the app's page; `/config.json` its configuration; `/app/...` its modules, styles and catalogues
    (only files inside web/app, only of the types the app has, and the reasons' catalogues)."""
    if path in ("/", "/index.html"):
        return WebFile((WEB_DIR / "index.html").read_bytes(), CONTENT_TYPES[".html"])
    if path == "/config.json":
        return WebFile(json.dumps(LOCAL_CONFIG).encode(), CONTENT_TYPES[".json"])
    if not path.startswith("/app/"):
        return None
    if path.startswith(f"/{REASONS_PREFIX}"):
        served = {file.name: file for file in REASONS_DIR.glob("*.json")}.get(path.removeprefix(f"/{REASONS_PREFIX}"))
        return WebFile(served.read_bytes(), CONTENT_TYPES[".json"]) if served else None
    root = (WEB_DIR / "app").resolve()
    candidate = (WEB_DIR / path.removeprefix("/")).resolve()
    if not candidate.is_relative_to(root) or not candidate.is_file() or candidate.suffix not in CONTENT_TYPES:
        return None
    return WebFile(candidate.read_bytes(), CONTENT_TYPES[candidate.suffix])


class LocalSignIn(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)

    username: Annotated[str, StringConstraints(pattern=r"^[\w.@+-]{1,128}$")]
    reviewer: bool = False
    supervisor: bool = False
    policy_owner: bool = Field(default=False, alias="policyOwner")
    finance: bool = False


class SignInRefused(ValueError):
    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


def sign_in(body: bytes) -> str:
    """The bearer token for the person the form names; SignInRefused names the field at fault."""
    try:
        data = json.loads(body or b"null")
    except ValueError as error:
        raise SignInRefused("body", "the body is not JSON") from error
    try:
        form = LocalSignIn.model_validate(data)
    except ValidationError as error:
        first = error.errors()[0]
        field = ".".join(map(str, first["loc"])) or "body"
        message = "a username is 1 to 128 letters, digits or . _ @ + -" if field == "username" else first["msg"]
        raise SignInRefused(field, message) from error
    claims = claims_for(
        form.username,
        reviewer=form.reviewer,
        supervisor=form.supervisor,
        policy_owner=form.policy_owner,
        finance=form.finance,
    )
    return make_token(claims)
