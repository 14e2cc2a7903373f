"""openapi.json, as the repo keeps it, against the document generated from the handlers' routes and models."""

import json

from refund_local.openapi import DOCUMENT_PATH, openapi_json
from refund_local.provision import api_routes, load_template


def test_openapi_json_is_the_generated_document() -> None:
    generated = openapi_json()
    assert json.loads(DOCUMENT_PATH.read_text(encoding="utf-8")) == json.loads(generated), (
        "openapi.json is out of date: run .venv/bin/python scripts/generate_openapi.py and commit it"
    )
    assert DOCUMENT_PATH.read_text(encoding="utf-8") == generated, "openapi.json is not formatted as generated"


def test_openapi_json_documents_exactly_the_template_routes() -> None:
    document = json.loads(DOCUMENT_PATH.read_text(encoding="utf-8"))
    documented = {(method.upper(), path) for path, operations in document["paths"].items() for method in operations}
    assert documented == {(route.method, route.path) for route in api_routes(load_template())}
    assert document["security"] == [{name: []} for name in document["components"]["securitySchemes"]]
