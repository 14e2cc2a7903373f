"""Where the repo is: the local runner reads template.yaml and the functions from the checkout it is
installed from (editable install: this file stays at <repo>/local/refund_local/paths.py)."""

from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
TEMPLATE_PATH = REPO_ROOT / "template.yaml"
