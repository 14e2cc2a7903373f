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


# A simulation asked for as a job: accepted, or refused as `simulate` is.
SIMULATION_ASKED = ["202", "400", "401", "403", "404", "409", "413", "415", "503"]


def test_every_route_declares_what_it_answers() -> None:
    """Each route's success and its errors, every error with the ErrorResponse body; nothing of Powertools' 422
    (HTTPValidationError), which the handlers never answer."""
    document = json.loads(DOCUMENT_PATH.read_text(encoding="utf-8"))
    error_body = {"application/json": {"schema": {"$ref": "#/components/schemas/ErrorResponse"}}}
    declared = {}
    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            responses = operation["responses"]
            declared[(method.upper(), path)] = sorted(responses)
            assert all(responses[status]["content"] == error_body for status in responses if status >= "400")
            if path.endswith(".csv"):
                assert list(responses["200"]["content"]) == ["text/csv"]
    assert declared == {
        ("POST", "/refund-requests"): ["201", "400", "401", "404", "409", "413", "415", "429", "503"],
        ("GET", "/refund-requests"): ["200", "400", "401", "403", "503"],
        ("GET", "/orders"): ["200", "400", "401", "503"],
        ("GET", "/personal-data"): ["200", "400", "401", "403", "503"],
        ("GET", "/queue/counts"): ["200", "400", "401", "403", "503"],
        ("GET", "/canned-replies"): ["200", "400", "401", "403", "503"],
        ("PUT", "/canned-replies/{replyId}"): ["200", "400", "401", "403", "409", "413", "415", "503"],
        ("POST", "/canned-replies/{replyId}/retire"): ["200", "400", "401", "403", "404", "409", "413", "415", "503"],
        ("GET", "/orders/{orderId}/assessment"): ["200", "400", "401", "404", "409", "429", "503"],
        ("GET", "/reports/sla"): ["200", "400", "401", "403", "503"],
        ("GET", "/reports/decisions.csv"): ["200", "400", "401", "403", "503"],
        ("GET", "/reports/payouts.csv"): ["200", "400", "401", "403", "503"],
        ("POST", "/reports/decisions-exports"): ["202", "400", "401", "403", "413", "415", "503"],
        ("GET", "/reports/decisions-exports"): ["200", "400", "401", "403", "503"],
        ("GET", "/reports/decisions-exports/{exportId}"): ["200", "400", "401", "403", "404", "503"],
        ("GET", "/payouts"): ["200", "400", "401", "403", "503"],
        ("POST", "/payouts/{requestId}"): ["200", "400", "401", "403", "404", "409", "413", "415", "503"],
        ("POST", "/webhooks/stripe"): ["200", "400", "503"],
        ("GET", "/policy"): ["200", "400", "401", "403", "503"],
        ("GET", "/policy/audit"): ["200", "400", "401", "403", "503"],
        ("PUT", "/policy/drafts/{version}"): ["200", "400", "401", "403", "409", "413", "415", "503"],
        ("POST", "/policy/drafts/{version}/simulate"): ["200", "400", "401", "403", "404", "409", "413", "415", "503"],
        ("POST", "/policy/drafts/{version}/publish"): ["200", "400", "401", "403", "404", "409", "413", "415", "503"],
        ("POST", "/policy/drafts/{version}/simulations"): SIMULATION_ASKED,
        ("GET", "/policy/simulations"): ["200", "400", "401", "403", "503"],
        ("GET", "/policy/simulations/{simulationId}"): ["200", "400", "401", "403", "404", "503"],
        ("GET", "/refund-requests/{requestId}"): ["200", "400", "401", "404", "503"],
        ("POST", "/refund-requests/{requestId}/evaluate"): [
            "200",
            "400",
            "401",
            "403",
            "404",
            "409",
            "413",
            "415",
            "422",
            "503",
        ],
        ("POST", "/refund-requests/{requestId}/cancel"): ["200", "400", "401", "404", "409", "503"],
        ("POST", "/refund-requests/{requestId}/answer"): ["200", "400", "401", "404", "409", "503"],
        ("POST", "/refund-requests/{requestId}/evidence"): ["201", "400", "401", "404", "409", "503"],
        ("POST", "/refund-requests/{requestId}/evidence/{evidenceId}/check"): [
            "200",
            "400",
            "401",
            "404",
            "409",
            "422",
            "503",
        ],
        ("GET", "/refund-requests/{requestId}/evidence/{evidenceId}"): ["200", "400", "401", "404", "503"],
    }
    location = document["paths"]["/refund-requests"]["post"]["responses"]["201"]["headers"]["Location"]
    assert location["required"] is True
    assert "HTTPValidationError" not in json.dumps(document)
    assert set(document["components"]["schemas"]["ErrorResponse"]["properties"]) == {
        "message",
        "code",
        "params",
        "errors",
    }


def test_the_request_resource_is_described_field_by_field() -> None:
    """Other systems generate clients from the document: the request resource must be a schema, not `{}`."""
    document = json.loads(DOCUMENT_PATH.read_text(encoding="utf-8"))
    properties = document["components"]["schemas"]["RefundRequestResource"]["properties"]
    assert {"requestId", "status", "deadline", "decision", "history", "facts", "workingDaysLeft"} <= set(properties)
