"""`python -m refund_local ...`, the same as the `refund-local` console script."""

from refund_local.cli import main

raise SystemExit(main())
