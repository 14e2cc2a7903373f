"""Write openapi.json at the repo root: the API's OpenAPI document, generated from the handlers' own routes
and models (refund_local.openapi). Rerun after changing a route or a model; a test fails until you do.

    .venv/bin/python scripts/generate_openapi.py
"""

from refund_local.openapi import DOCUMENT_PATH, openapi_json

if __name__ == "__main__":
    DOCUMENT_PATH.write_text(openapi_json(), encoding="utf-8")
    print(f"wrote {DOCUMENT_PATH}")
