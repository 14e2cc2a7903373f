"""The policy owners' routes: the versions, drafts, what-if simulation (at once, or as a job), publication and the
audit trail."""

from typing import Annotated, Any

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.openapi.params import Body, Path, Query
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext

from refund_core.app import policies, policy_simulations
from refund_core.app.inputs import SimulationId
from refund_core.app.policies import AuditTrail, PolicyDraft, PolicyVersions, Publication, Simulation, SimulationPeriod
from refund_core.app.policy_simulations import SimulationJob, SimulationJobs
from refund_core.http.body import json_body_only, media_type_lower_cased
from refund_core.http.resolver import BODY_ERRORS, current_caller, new_api, only_parameters, resource, route_responses
from refund_core.observability import observed
from refund_core.policy.document import VERSION_PATTERN, Policy, PublishedPolicy
from refund_core.settings import settings
from refund_core.snapstart import prepare_snapshot

app = new_api(allowed_origin=settings().web_app_origin)
Version = Annotated[str, Path(pattern=VERSION_PATTERN, description="The version's name, as in its document")]
Limit = Annotated[int, Query(ge=1, le=100, description="Entries per page")]
NextToken = Annotated[str | None, Query(alias="nextToken", max_length=2048)]
NOT_AN_OWNER = {403: "Not a refund policy owner"}


@app.get(
    "/policy",
    summary="The version in force, the earlier and the scheduled ones, and the drafts",
    responses=route_responses(200, PolicyVersions, "The policy's versions", NOT_AN_OWNER),
)
def versions() -> Response[PolicyVersions]:
    only_parameters(app, ())
    return resource(policies.policy_versions(current_caller(app)))


@app.put(
    "/policy/drafts/<version>",
    summary="Store a draft: the whole document, every setting valid",
    middlewares=[json_body_only],
    responses=route_responses(
        200,
        PolicyDraft,
        "The draft as stored",
        {**NOT_AN_OWNER, 409: "A version of that name is published: it cannot be changed", **BODY_ERRORS},
    ),
)
def save_draft(version: Version, body: Annotated[Policy, Body()]) -> Response[PolicyDraft]:
    return resource(policies.save_draft(current_caller(app), version, body))


@app.post(
    "/policy/drafts/<version>/simulate",
    summary="What the draft would have made of the requests received in a period",
    middlewares=[json_body_only],
    responses=route_responses(
        200,
        Simulation,
        "The requests that would change, the outcomes and the money before and after",
        {**NOT_AN_OWNER, 404: "No such draft", 409: "That version is published already", **BODY_ERRORS},
    ),
)
def simulate(version: Version, body: Annotated[SimulationPeriod, Body()]) -> Response[Simulation]:
    return resource(policies.simulate(current_caller(app), version, body))


@app.post(
    "/policy/drafts/<version>/simulations",
    summary="Simulate the draft as a job, for a long period: its progress and result are read below",
    middlewares=[json_body_only],
    responses=route_responses(
        202,
        SimulationJob,
        "The simulation, its job queued",
        {**NOT_AN_OWNER, 404: "No such draft", 409: "That version is published already", **BODY_ERRORS},
    ),
)
def start_simulation(version: Version, body: Annotated[SimulationPeriod, Body()]) -> Response[SimulationJob]:
    return resource(policy_simulations.start_simulation(current_caller(app), version, body), status_code=202)


@app.get(
    "/policy/simulations",
    summary="The simulations run as jobs in the last 7 days, newest first",
    responses=route_responses(200, SimulationJobs, "The simulations, without their results", NOT_AN_OWNER),
)
def simulations() -> Response[SimulationJobs]:
    only_parameters(app, ())
    return resource(policy_simulations.recent_simulations(current_caller(app)))


@app.get(
    "/policy/simulations/<simulationId>",
    summary="How far a simulation's job has come; once done, its result",
    responses=route_responses(200, SimulationJob, "The simulation", {**NOT_AN_OWNER, 404: "No such simulation"}),
)
def simulation(simulationId: SimulationId) -> Response[SimulationJob]:
    only_parameters(app, ())
    return resource(policy_simulations.simulation_status(current_caller(app), simulationId))


@app.post(
    "/policy/drafts/<version>/publish",
    summary="Publish the draft, in force from a moment now or later",
    middlewares=[json_body_only],
    responses=route_responses(
        200,
        PublishedPolicy,
        "The version as published, with the moment it takes effect",
        {
            **NOT_AN_OWNER,
            404: "No such draft",
            409: "That version is published already, or the draft was saved again meanwhile",
            **BODY_ERRORS,
        },
    ),
)
def publish(version: Version, body: Annotated[Publication, Body()]) -> Response[PublishedPolicy]:
    return resource(policies.publish(current_caller(app), version, body))


@app.get(
    "/policy/audit",
    summary="Every policy action, newest first",
    responses=route_responses(200, AuditTrail, "A page of the audit trail", NOT_AN_OWNER),
)
def audit(limit: Limit = 50, next_token: NextToken = None) -> Response[AuditTrail]:
    only_parameters(app, ("limit", "nextToken"))
    return resource(policies.audit_trail(current_caller(app), limit, next_token))


@observed(correlation_id_path=correlation_paths.API_GATEWAY_REST)
@media_type_lower_cased
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return app.resolve(event, context)


prepare_snapshot(app, reads_policy=True)
