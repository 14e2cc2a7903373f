"""The refund-request core: `policy` (pure rules) at the bottom, `adapters` (AWS) and `http` (API Gateway)
above it, `app` (the service) on top; `errors` and `observability` are shared leaves (docs/design.md)."""
