import sys

from refund_ops.cli import main

sys.exit(main())
