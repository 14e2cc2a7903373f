"""The least a function of this repo's shape does, for `make bench`'s cold starts (scripts/bench_cold.py): the
stack every API function is built on (Powertools' REST resolver with its request validation, one pydantic
input model, Logger and Tracer on the handler) around one GetItem through a boto3 client. Its cold start
against the bare baseline shows what the stack alone costs, before any of the service's own code."""

import os
from typing import Any

import boto3
from aws_lambda_powertools import Logger, Tracer
from aws_lambda_powertools.event_handler import APIGatewayRestResolver
from pydantic import BaseModel

tracer = Tracer(patch_modules=("botocore",))
logger = Logger()
app = APIGatewayRestResolver(enable_validation=True)
dynamodb = boto3.client("dynamodb")


class NewClaim(BaseModel):
    orderId: str  # the API's field name
    reason: str


@app.post("/refund-requests")
def submit(claim: NewClaim) -> dict[str, str]:
    dynamodb.get_item(TableName=os.environ["TABLE"], Key={"pk": {"S": "REQUEST#none"}, "sk": {"S": "REQUEST"}})
    return {"orderId": claim.orderId}


@logger.inject_lambda_context
@tracer.capture_lambda_handler
def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return app.resolve(event, context)
