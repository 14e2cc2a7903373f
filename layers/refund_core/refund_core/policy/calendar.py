"""The review calendar: Hong Kong working days, the review deadline and the reminder time.

A working day is Monday to Friday except Hong Kong general holidays (Cap. 149), which the `holidays`
package holds as its HK `public` plus `optional` categories; its default HK calendar has only the
statutory ones and would miss Good Friday."""

from __future__ import annotations

import json
from collections.abc import Container
from datetime import UTC, date, datetime, time, timedelta
from functools import cache
from pathlib import Path
from zoneinfo import ZoneInfo

from pydantic import AwareDatetime, BaseModel, ConfigDict

from refund_core.policy.document import Policy

_END_OF_DAY = time(23, 59, 59, 999000)
# Once late, the company promises a decision within this many more working days.
DELAY_WORKING_DAYS = 2


class ReviewTimeline(BaseModel):
    """When reviewers are reminded and when the policy's decision is due, both aware UTC datetimes."""

    model_config = ConfigDict(frozen=True)

    reminder_at: AwareDatetime
    deadline: AwareDatetime


HOLIDAYS_FILE = Path(__file__).with_name("hong_kong_holidays.json")


def calendar_name(categories: tuple[str, ...]) -> str:
    """A calendar of HOLIDAYS_FILE: its categories, sorted, comma-separated (`optional,public`)."""
    return ",".join(sorted(set(categories)))


def holidays_as_computed(categories: tuple[str, ...], first_year: int, last_year: int) -> frozenset[date]:
    """The `holidays` package's Hong Kong holidays of those categories together (holidays of two categories on
    one day give a day off more) over those years: what HOLIDAYS_FILE holds."""
    # Imported on first use only: it loads every country's module, about 100 ms of a cold start.
    import holidays  # noqa: PLC0415

    computed = holidays.country_holidays("HK", categories=categories, years=range(first_year, last_year + 1))
    return frozenset(computed)


class _HongKongHolidays(Container[date]):
    """The holidays of some categories: the years of HOLIDAYS_FILE from it (scripts/generate_holidays.py wrote it
    from the package), any other year from the package itself."""

    def __init__(self, categories: tuple[str, ...], days: list[str], years: range) -> None:
        self._categories = categories
        self._years = years
        self._days = frozenset(date.fromisoformat(day) for day in days)
        self._computed: dict[int, frozenset[date]] = {}

    def __contains__(self, day: object) -> bool:
        if not isinstance(day, date):
            return False
        if day.year in self._years:
            return day in self._days
        if day.year not in self._computed:
            self._computed[day.year] = holidays_as_computed(self._categories, day.year, day.year)
        return day in self._computed[day.year]


@cache
def _general_holidays(categories: tuple[str, ...]) -> Container[date]:
    document = json.loads(HOLIDAYS_FILE.read_text(encoding="utf-8"))
    first_year, last_year = document["years"]
    days = document["calendars"].get(calendar_name(categories))
    if days is not None:
        return _HongKongHolidays(categories, days, range(first_year, last_year + 1))
    # A category the package has no Hong Kong holidays of: it says so (ValueError), as it always did.
    import holidays  # noqa: PLC0415

    calendar: Container[date] = holidays.country_holidays("HK", categories=categories)
    return calendar


class ReviewCalendar:
    def __init__(self, policy: Policy) -> None:
        self._zone = ZoneInfo(policy.time_zone)
        self._holidays = _general_holidays(tuple(sorted(policy.holiday_categories)))

    def local_date(self, moment: datetime) -> date:
        """The Hong Kong calendar date of an aware moment."""
        return moment.astimezone(self._zone).date()

    def is_working_day(self, day: date) -> bool:
        return day.weekday() < 5 and day not in self._holidays

    def working_day_after(self, day: date, count: int) -> date:
        """The `count`-th working day after `day`, which is day 0 whatever kind of day it is."""
        remaining = count
        current = day
        while remaining > 0:
            current += timedelta(days=1)
            if self.is_working_day(current):
                remaining -= 1
        return current

    def working_days_between(self, start: date, end: date) -> int:
        """How many working days come after `start`, up to and including `end` (0 when `end` is not later)."""
        days = 0
        current = start
        while current < end:
            current += timedelta(days=1)
            days += self.is_working_day(current)
        return days

    def end_of(self, day: date) -> datetime:
        return datetime.combine(day, _END_OF_DAY, tzinfo=self._zone).astimezone(UTC)

    def decision_promised_after_delay(self, deadline: datetime) -> datetime:
        """What the delay email promises once the deadline has passed (and the late request's page says): the
        end of the DELAY_WORKING_DAYS-th working day after the deadline's."""
        return self.end_of(self.working_day_after(self.local_date(deadline), DELAY_WORKING_DAYS))


def review_timeline(received_at: datetime, policy: Policy, window_seconds: int | None = None) -> ReviewTimeline:
    """The deadline is the end of the Nth working day after the day of receipt (Hong Kong time); the
    reminder the end of the working day a setting's number of working days before it. A window of
    `window_seconds` (demos and tests) replaces the working days, with the reminder at 0.8 of it."""
    if window_seconds is not None:
        received = received_at.astimezone(UTC)
        return ReviewTimeline(
            reminder_at=received + timedelta(seconds=window_seconds * 0.8),
            deadline=received + timedelta(seconds=window_seconds),
        )
    calendar = ReviewCalendar(policy)
    received_day = calendar.local_date(received_at)
    deadline_day = calendar.working_day_after(received_day, policy.review_working_days)
    reminder_day = calendar.working_day_after(
        received_day, policy.review_working_days - policy.reminder_working_days_before_deadline
    )
    return ReviewTimeline(reminder_at=calendar.end_of(reminder_day), deadline=calendar.end_of(deadline_day))
