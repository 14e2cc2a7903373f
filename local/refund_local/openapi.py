"""The API's OpenAPI document, generated from the handlers' own routes and models: each function's Powertools
resolver (`app`) describes its routes, their pydantic models, their answers and the bearer scheme API
Gateway's Cognito authorizer asks for (refund_core.http.resolver); Powertools' OpenAPIMerge merges them under
one title. The repo keeps the result as `openapi.json` (scripts/generate_openapi.py); the local runner serves it at /openapi.json and
Swagger UI at /docs."""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import Iterator
from importlib import metadata
from pathlib import Path
from typing import Any

from aws_lambda_powertools.event_handler.openapi import swagger_ui
from aws_lambda_powertools.event_handler.openapi.merge import OpenAPIMerge
from aws_lambda_powertools.event_handler.openapi.swagger_ui import generate_swagger_html

from refund_core.http.resolver import BEARER_SCHEME, bearer_scheme
from refund_core.settings import settings
from refund_local.handlers import load_module
from refund_local.paths import REPO_ROOT
from refund_local.provision import Template, api_routes, function_environment, load_template

TITLE = "Smart Security refund requests"
DESCRIPTION = (
    "Refund requests under Smart Security Ltd.'s published Refund Policy. Every route needs a Cognito token "
    '(`Authorization: Bearer <token>`); errors are JSON `{"message", "errors": [{"field", "message"}]}`.'
)
DOCUMENT_PATH = REPO_ROOT / "openapi.json"
SCHEMA_PREFIX = "#/components/schemas/"
# Powertools documents a 422 with this schema on every validated route; the handlers answer validation errors
# with 400 and ErrorResponse instead (refund_core.http.resolver), so the entry describes nothing that happens.
POWERTOOLS_VALIDATION_ERROR = SCHEMA_PREFIX + "HTTPValidationError"
# Powertools ships the Swagger UI bundle: /docs works offline, no CDN.
SWAGGER_ASSETS = {
    "swagger-ui-bundle.min.js": "text/javascript; charset=utf-8",
    "swagger-ui.min.css": "text/css; charset=utf-8",
}
SWAGGER_ASSETS_DIR = Path(swagger_ui.__file__).parent


def _refers_to_validation_error(answer: dict[str, Any]) -> bool:
    return any(
        media.get("schema", {}).get("$ref") == POWERTOOLS_VALIDATION_ERROR
        for media in answer.get("content", {}).values()
    )


def _references(value: Any) -> Iterator[str]:
    """The component schemas that `value` (a piece of the document) refers to, by name."""
    if isinstance(value, dict):
        reference = value.get("$ref")
        if isinstance(reference, str) and reference.startswith(SCHEMA_PREFIX):
            yield reference.removeprefix(SCHEMA_PREFIX)
        for item in value.values():
            yield from _references(item)
    elif isinstance(value, list):
        for item in value:
            yield from _references(item)


def _used_schemas(paths: dict[str, Any], schemas: dict[str, Any]) -> dict[str, Any]:
    """The schemas that the paths refer to, directly or through other schemas."""
    used: set[str] = set()
    pending = list(_references(paths))
    while pending:
        name = pending.pop()
        if name not in used:
            used.add(name)
            pending.extend(_references(schemas[name]))
    return {name: schema for name, schema in schemas.items() if name in used}


@contextlib.contextmanager
def _as_in_lambda(template: Template) -> Iterator[None]:
    """Handlers read their settings when Lambda imports them: import them with the template's environment
    (what the process already has wins), then leave the process as it was."""
    added = {name: value for name, value in function_environment(template, {}).items() if name not in os.environ}
    os.environ.update(added)
    settings.cache_clear()
    try:
        yield
    finally:
        for name in added:
            os.environ.pop(name, None)
        settings.cache_clear()


def openapi_document(template: Template | None = None) -> dict[str, Any]:
    """Every function that serves an API route of the template, its resolver's document merged in by
    Powertools' OpenAPIMerge (a path and method defined twice is an error)."""
    merge = OpenAPIMerge(
        title=TITLE,
        version=metadata.version("smart-security-refunds"),
        description=DESCRIPTION,
        security_schemes={BEARER_SCHEME: bearer_scheme()},
        security=[{BEARER_SCHEME: []}],
        on_conflict="error",
    )
    template = template or load_template()
    with _as_in_lambda(template):
        for code_uri in dict.fromkeys(route.code_uri for route in api_routes(template)):
            merge.add_schema(json.loads(load_module(code_uri).app.get_openapi_json_schema(title=TITLE)))
    document: dict[str, Any] = json.loads(merge.get_openapi_json_schema())
    paths: dict[str, Any] = document.get("paths", {})
    # A route the template opens to callers without a token (a webhook) takes no bearer token either.
    for route in api_routes(template):
        if not route.signed_in:
            paths[route.path][route.method.lower()]["security"] = []
    for operations in paths.values():
        for operation in operations.values():
            responses = operation["responses"]
            for status in [status for status, answer in responses.items() if _refers_to_validation_error(answer)]:
                del responses[status]
    components = document.get("components", {})
    components["schemas"] = _used_schemas(paths, components.get("schemas", {}))
    return {
        **document,
        "paths": {path: paths[path] for path in sorted(paths)},
        "components": {kind: dict(sorted(entries.items())) for kind, entries in sorted(components.items())},
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
