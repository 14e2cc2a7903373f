"""GET /reports/sla, GET /reports/decisions.csv and GET /reports/payouts.csv: the supervisors' service levels and
decisions, and the payouts finance reconciles (finance and supervisors); /reports/decisions-exports: the
decisions of a long period as a file a job writes (supervisors)."""

from typing import Annotated, Any

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.openapi.params import Body, Query
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext

from refund_core.app.decisions_exports import (
    DecisionsExport,
    DecisionsExports,
    export_status,
    recent_exports,
    start_export,
)
from refund_core.app.finance import payouts_csv
from refund_core.app.inputs import ExportId, IsoDate, Period
from refund_core.app.reports import ServiceLevels
from refund_core.app.service import decisions_export, service_levels
from refund_core.http.body import media_type_lower_cased
from refund_core.http.resolver import (
    BODY_ERRORS,
    csv_file,
    csv_responses,
    current_caller,
    new_api,
    only_parameters,
    resource,
    route_responses,
)
from refund_core.observability import observed
from refund_core.settings import settings
from refund_core.snapstart import prepare_snapshot

app = new_api(allowed_origin=settings().web_app_origin)
PERIOD = ("from", "to")
From = Annotated[IsoDate | None, Query(alias="from", description="a Hong Kong date (default: 29 days before `to`)")]
To = Annotated[IsoDate | None, Query(alias="to", description="a Hong Kong date (default: today)")]
NOT_A_SUPERVISOR = {403: "Not a refund supervisor"}


@app.get(
    "/reports/sla",
    summary="Service levels of a period: open requests, decisions, in time or late, working days to decide",
    responses=route_responses(200, ServiceLevels, "The service levels", NOT_A_SUPERVISOR),
)
def sla(start: From = None, end: To = None) -> Response[ServiceLevels]:
    only_parameters(app, PERIOD)
    return resource(service_levels(current_caller(app), start, end))


@app.get(
    "/reports/decisions.csv",
    summary="The decisions on the requests received in a period, one CSV row each",
    responses=csv_responses("One header row, then a row per decided request", NOT_A_SUPERVISOR),
)
def decisions(start: From = None, end: To = None) -> Response[str]:
    only_parameters(app, PERIOD)
    text, file_name = decisions_export(current_caller(app), start, end)
    return csv_file(text, file_name)


@app.post(
    "/reports/decisions-exports",
    summary="Export the decisions of a period (up to a year) as a file: a job writes it, its progress is read below",
    responses=route_responses(202, DecisionsExport, "The export, its job queued", {**NOT_A_SUPERVISOR, **BODY_ERRORS}),
)
def export_decisions(body: Annotated[Period, Body()]) -> Response[DecisionsExport]:
    return resource(start_export(current_caller(app), body), status_code=202)


@app.get(
    "/reports/decisions-exports",
    summary="The decisions exports asked for in the last 7 days, newest first",
    responses=route_responses(200, DecisionsExports, "The exports", NOT_A_SUPERVISOR),
)
def decisions_exports() -> Response[DecisionsExports]:
    only_parameters(app, ())
    return resource(recent_exports(current_caller(app)))


@app.get(
    "/reports/decisions-exports/<exportId>",
    summary="How far an export has come; once done, a download link valid for 5 minutes",
    responses=route_responses(200, DecisionsExport, "The export", {**NOT_A_SUPERVISOR, 404: "No such export"}),
)
def decisions_export_status(exportId: ExportId) -> Response[DecisionsExport]:
    only_parameters(app, ())
    return resource(export_status(current_caller(app), exportId))


@app.get(
    "/reports/payouts.csv",
    summary="The payouts of the approvals of requests received in a period, one CSV row each",
    responses=csv_responses(
        "One header row, then a row per approved request", {403: "Neither finance nor a supervisor"}
    ),
)
def payouts(start: From = None, end: To = None) -> Response[str]:
    only_parameters(app, PERIOD)
    text, file_name = payouts_csv(current_caller(app), start, end)
    return csv_file(text, file_name)


@observed(correlation_id_path=correlation_paths.API_GATEWAY_REST)
@media_type_lower_cased
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return app.resolve(event, context)


prepare_snapshot(app, reads_policy=True)
