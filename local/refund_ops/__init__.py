"""Operations on a deployed stack: `refund-ops deploy-web`, `refund-ops load-events` (refund_ops.cli)."""
