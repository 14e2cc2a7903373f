"""The API's OpenAPI document, generated from the handlers' own routes and models: each function's Powertools
resolver (`app`) describes its routes and their pydantic models; this merges them under one title, with
the bearer scheme API Gateway's Cognito authorizer asks for. The repo keeps the result as `openapi.json`
(scripts/generate_openapi.py); the local runner serves it at /openapi.json and Swagger UI at /docs."""

from __future__ import annotations

import json
from importlib import metadata
from pathlib import Path
from typing import Any

from aws_lambda_powertools.event_handler.openapi import swagger_ui
from aws_lambda_powertools.event_handler.openapi.swagger_ui import generate_swagger_html

from refund_local.handlers import load_module
from refund_local.provision import REPO_ROOT, Template, api_routes, load_template

TITLE = "Smart Security refund requests"
DESCRIPTION = (
    "Refund requests under Smart Security Ltd.'s published Refund Policy. Every route needs a Cognito token "
    '(`Authorization: Bearer <token>`); errors are JSON `{"message", "errors": [{"field", "message"}]}`.'
)
DOCUMENT_PATH = REPO_ROOT / "openapi.json"
BEARER_SCHEME = "cognitoBearer"
# Powertools ships the Swagger UI bundle: /docs works offline, no CDN.
SWAGGER_ASSETS = {
    "swagger-ui-bundle.min.js": "text/javascript; charset=utf-8",
    "swagger-ui.min.css": "text/css; charset=utf-8",
}
SWAGGER_ASSETS_DIR = Path(swagger_ui.__file__).parent


def _merge(target: dict[str, dict[str, Any]], source: dict[str, Any], what: str) -> None:
    """Add each entry of `source` (path → operations, or kind → components) to `target`; a name defined
    twice must be defined alike."""
    for name, entries in source.items():
        known = target.setdefault(name, {})
        for key, value in entries.items():
            if key in known and known[key] != value:
                raise ValueError(f"two functions define {what} {key} of {name} differently")
            known[key] = value


def openapi_document(template: Template | None = None) -> dict[str, Any]:
    """Every function that serves an API route of the template, its resolver's document merged in."""
    paths: dict[str, dict[str, Any]] = {}
    components: dict[str, dict[str, Any]] = {}
    openapi_version = ""
    code_uris = dict.fromkeys(route.code_uri for route in api_routes(template or load_template()))
    for code_uri in code_uris:
        document = json.loads(load_module(code_uri).app.get_openapi_json_schema(title=TITLE))
        openapi_version = document["openapi"]
        _merge(paths, document.get("paths", {}), "the operation")
        _merge(components, document.get("components", {}), "the component")
    components["securitySchemes"] = {
        BEARER_SCHEME: {
            "type": "http",
            "scheme": "bearer",
            "bearerFormat": "JWT",
            "description": "A Cognito ID token; locally, any token from `refund-local token USER [--reviewer]`.",
        }
    }
    return {
        "openapi": openapi_version,
        "info": {"title": TITLE, "version": metadata.version("smart-security-refunds"), "description": DESCRIPTION},
        "servers": [{"url": "/"}],
        "paths": {path: paths[path] for path in sorted(paths)},
        "components": {kind: dict(sorted(entries.items())) for kind, entries in sorted(components.items())},
        "security": [{BEARER_SCHEME: []}],
    }


def openapi_json(template: Template | None = None) -> str:
    """The document as the repo keeps it: stable key order, two-space indent, a final newline."""
    return json.dumps(openapi_document(template), indent=2, ensure_ascii=False) + "\n"


def swagger_html(document_json: str) -> str:
    # `</` escaped so that no string in the document can close the page's <script>.
    return generate_swagger_html(
        spec=document_json.replace("</", "<\\/"),
        swagger_js="/docs/swagger-ui-bundle.min.js",
        swagger_css="/docs/swagger-ui.min.css",
        swagger_base_url="/docs",
        oauth2_config=None,
        persist_authorization=True,
    )
