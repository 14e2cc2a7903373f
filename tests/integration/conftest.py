import time
from collections.abc import Iterator

import pytest


@pytest.fixture(scope="session", autouse=True)
def _emulated_aws_env() -> Iterator[None]:
    """Fake credentials, so that nothing can reach real AWS, and UTC as the process's local time: moto's
    Step Functions Wait compares `...Z` timestamps with the naive local clock."""
    with pytest.MonkeyPatch.context() as patch:
        for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SECURITY_TOKEN", "AWS_SESSION_TOKEN"):
            patch.setenv(name, "testing")
        patch.delenv("AWS_PROFILE", raising=False)
        # Not ap-east-1: SES does not exist there, neither in AWS nor in moto (KeyError 'ap-east-1').
        patch.setenv("AWS_DEFAULT_REGION", "ap-southeast-1")
        # Else botocore may build account-id endpoints from the fake credentials.
        patch.setenv("AWS_ACCOUNT_ID_ENDPOINT_MODE", "disabled")
        patch.setenv("TZ", "UTC")
        time.tzset()
        yield
    time.tzset()  # the context has put TZ back
