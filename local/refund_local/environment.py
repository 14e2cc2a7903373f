"""What every emulated AWS of the local runner shares: the region, the credentials, the clock's zone."""

from __future__ import annotations

import os
import time

REGION = "ap-southeast-1"  # SES is not offered in Hong Kong (ap-east-1); the nearest region that has it
CREDENTIALS = {"AWS_ACCESS_KEY_ID": "local", "AWS_SECRET_ACCESS_KEY": "local", "AWS_SESSION_TOKEN": "local"}


def use_utc() -> None:
    """moto compares Wait timestamps with the process's naive local time: run the process in UTC."""
    os.environ["TZ"] = "UTC"
    time.tzset()
