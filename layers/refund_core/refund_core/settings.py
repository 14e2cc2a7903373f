"""The service's settings, read from the environment when first used (never at import)."""

from __future__ import annotations

import os
from functools import cache

from pydantic import BaseModel, ConfigDict, Field


class Settings(BaseModel):
    model_config = ConfigDict(frozen=True)

    requests_table_name: str = Field(min_length=1)
    customer_records_table_name: str = Field(min_length=1)
    idempotency_table_name: str = Field(min_length=1)
    policy_table_name: str = Field(min_length=1)
    # How old each function's copy of the published policy versions may be: a version takes effect no sooner
    # than this after it is published, so that every function applies it from its first moment.
    policy_cache_seconds: int = Field(default=60, ge=1, le=300)
    review_deadline_state_machine_arn: str = Field(min_length=1)
    # Where owed effects go to be delivered (the notifier, the reconciler); the delivery function reads it.
    delivery_queue_url: str | None = None
    # Where the records function keeps each event it refused, with the reason.
    records_dead_letter_queue_url: str | None = None
    # An owed effect not done this long after it was owed is the reconciler's; a delivery holds one this long.
    outbox_grace_seconds: int = Field(default=600, gt=0)
    outbox_lease_seconds: int = Field(default=120, gt=0)
    sender_email: str = "refunds@example.com"
    reviewers_email: str = "refund-reviewers@example.com"
    supervisors_email: str = "refund-supervisors@example.com"
    # Where every customer email says support can be reached, and the Control Panel the emails link to.
    support_email: str = "support@example.com"
    control_panel_url: str = "http://127.0.0.1:3000/"
    # The one origin the API allows in CORS: the web app's (locally the runner's own, which serves both).
    web_app_origin: str | None = None
    ses_configuration_set: str | None = None
    # Where SES stores received letters: a region that receives mail, not necessarily the service's own.
    letters_region: str | None = None
    event_bus_name: str = "default"
    # The card processor (PAYOUTS.md): the Secrets Manager secret holding Stripe's API key and the webhook
    # endpoint's signing secret; where the SDK calls (locally localstripe, else Stripe's own address); how long
    # a call may take; how long a payout sent may go without news before Stripe is asked about it.
    stripe_secret_name: str | None = None
    stripe_api_base: str | None = None
    stripe_timeout_seconds: float = Field(default=10.0, gt=0, le=60)
    payout_check_after_seconds: int = Field(default=3600, gt=0)
    # The private bucket of the requests' evidence; the S3 address the presigned links name (None: S3's own;
    # locally the runner's, which plays S3 for the browser).
    evidence_bucket_name: str | None = None
    s3_links_endpoint_url: str | None = None
    # The supervisors' decisions exports: the private bucket of their files, the queue of their jobs, and how much
    # of a file is uploaded at once (S3 takes no part but the last under 5 MiB).
    reports_bucket_name: str | None = None
    decisions_export_queue_url: str | None = None
    decisions_export_part_bytes: int = Field(default=8 * 1024 * 1024, gt=0)
    # The queue of the policy owners' simulations run as jobs.
    policy_simulation_queue_url: str | None = None
    # Local runner and tests only: N seconds instead of the policy's working days.
    review_window_seconds: int | None = Field(default=None, gt=0)


@cache
def settings() -> Settings:
    names = Settings.model_fields.keys()
    values = {name: os.environ[name.upper()] for name in names if os.environ.get(name.upper())}
    return Settings.model_validate(values)
