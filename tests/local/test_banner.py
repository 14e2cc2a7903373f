"""What `serve` prints when it is ready: where things are, the demo data and the quick tour, once."""

from __future__ import annotations

import argparse

from refund_local.cli import _banner
from refund_local.demo import quick_tour
from refund_local.provision import load_template
from refund_local.seed import Seed


def test_the_banner_prints_the_quick_tour_once_and_ends_with_how_to_stop() -> None:
    args = argparse.Namespace(host="127.0.0.1", port=3000, review_window_seconds=None, data_dir=None, seed=None,
                              workers=2)  # fmt: skip
    banner = _banner(args, load_template(), Seed(), restored=False, seconds=4.2)
    tour = quick_tour("http://127.0.0.1:3000")
    assert banner.count(tour[0]) == 1
    assert banner.count("Quick tour") == 1
    assert banner.splitlines()[-1] == "Ctrl-C stops it."
