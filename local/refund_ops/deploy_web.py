"""`refund-ops deploy-web --stack NAME`: the web app (web/) into a deployed stack's bucket, with the
`config.json` that points it at that stack's API and hosted sign-in, then a CloudFront invalidation.

The stack's outputs say where everything is (template.yaml: WebBucketName, WebDistributionId, ApiUrl,
SignInDomain, WebAppClientId, WebAppUrl); with ExistingUserPoolArn, name the pool's web client with
--client-id."""

from __future__ import annotations

import json
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from refund_local.webapp import CONTENT_TYPES, REASONS_DIR, REASONS_PREFIX, WEB_DIR

# The page and its configuration are read fresh each time (a deploy shows at once); the modules, styles and
# catalogues are revalidated too: they are small, and their names carry no version.
CACHE_CONTROL = "no-cache"


class MissingOutput(ValueError):
    """The stack lacks an output deploy-web needs."""


@dataclass(frozen=True)
class WebTarget:
    bucket: str
    distribution_id: str
    config: dict[str, str]


def web_target(outputs: Mapping[str, str], client_id: str | None = None) -> WebTarget:
    """What the stack's outputs say: the bucket, the distribution and the app's config.json."""
    needed = ["WebBucketName", "WebDistributionId", "ApiUrl", "SignInDomain", "WebAppUrl"]
    missing = [name for name in needed if not outputs.get(name)]
    client = client_id or outputs.get("WebAppClientId")
    if not client:
        missing.append("WebAppClientId (or --client-id)")
    if missing:
        raise MissingOutput(f"the stack has no output {', '.join(missing)}")
    config = {
        "auth": "cognito",
        "apiBase": outputs["ApiUrl"].rstrip("/"),
        "domain": outputs["SignInDomain"],
        "clientId": str(client),
        "redirectUri": outputs["WebAppUrl"],
    }
    return WebTarget(outputs["WebBucketName"], outputs["WebDistributionId"], config)


def web_files(root: Path = WEB_DIR) -> dict[str, Path]:
    """The files the bucket holds, by key: index.html, web/app/ (only the types the app has) and the rules'
    reasons in each language (the layer's catalogues)."""
    files = {"index.html": root / "index.html"}
    for path in sorted((root / "app").rglob("*")):
        if path.is_file() and path.suffix in CONTENT_TYPES:
            files[path.relative_to(root).as_posix()] = path
    for path in sorted(REASONS_DIR.glob("*.json")):
        files[f"{REASONS_PREFIX}{path.name}"] = path
    return files


def deploy(s3: Any, cloudfront: Any, target: WebTarget, root: Path = WEB_DIR) -> list[str]:
    """Uploads every file and config.json, then invalidates them all; answers the keys written."""
    written = []
    for key, path in web_files(root).items():
        s3.put_object(
            Bucket=target.bucket,
            Key=key,
            Body=path.read_bytes(),
            ContentType=CONTENT_TYPES[path.suffix],
            CacheControl=CACHE_CONTROL,
        )
        written.append(key)
    s3.put_object(
        Bucket=target.bucket,
        Key="config.json",
        Body=json.dumps(target.config, indent=2).encode(),
        ContentType=CONTENT_TYPES[".json"],
        CacheControl=CACHE_CONTROL,
    )
    written.append("config.json")
    cloudfront.create_invalidation(
        DistributionId=target.distribution_id,
        InvalidationBatch={
            "Paths": {"Quantity": 1, "Items": ["/*"]},
            "CallerReference": f"deploy-web-{time.time_ns()}",
        },
    )
    return written


def stack_outputs(cloudformation: Any, stack: str) -> dict[str, str]:
    described = cloudformation.describe_stacks(StackName=stack)["Stacks"][0]
    return {output["OutputKey"]: output["OutputValue"] for output in described.get("Outputs", [])}
