"""Writes layers/refund_core/refund_core/policy/hong_kong_holidays.json: the Hong Kong holidays of every combination
of the categories the package has for Hong Kong (together, two categories' holidays on one day give a day off
more), for the years most deadlines fall in, as the `holidays` package computes them. The review
calendar reads them from there (importing the package costs a cold start about 100 ms: it loads every country's
module) and asks the package for any other year. tests/unit/test_calendar.py fails when they drift:

    .venv/bin/python scripts/generate_holidays.py"""

from __future__ import annotations

import itertools
import json

import holidays

from refund_core.policy.calendar import HOLIDAYS_FILE, calendar_name, holidays_as_computed

FIRST_YEAR, LAST_YEAR = 2024, 2040


def main() -> None:
    categories = sorted(holidays.country_holidays("HK").supported_categories)
    combinations = [
        combination
        for size in range(1, len(categories) + 1)
        for combination in itertools.combinations(categories, size)
    ]
    document = {
        "computedBy": f"holidays {holidays.__version__}",
        "years": [FIRST_YEAR, LAST_YEAR],
        "calendars": {
            calendar_name(combination): sorted(
                day.isoformat() for day in holidays_as_computed(combination, FIRST_YEAR, LAST_YEAR)
            )
            for combination in combinations
        },
    }
    HOLIDAYS_FILE.write_text(json.dumps(document, indent=1) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
