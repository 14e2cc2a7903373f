"""Set before any test module imports refund_core: Powertools reads these when its objects are made."""

import os

os.environ.setdefault("POWERTOOLS_SERVICE_NAME", "refunds")
os.environ.setdefault("POWERTOOLS_METRICS_NAMESPACE", "SmartSecurity/Refunds")
# Metrics are flushed as EMF lines on stdout: nothing in the tests reads them.
os.environ.setdefault("POWERTOOLS_METRICS_DISABLED", "true")
