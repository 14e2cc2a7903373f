"""The review deadline: the end (23:59:59.999 HKT) of the 10th Hong Kong working day after the day of receipt;
the reminder at the end of the 8th. Working days skip weekends and Hong Kong *general* holidays."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest

from refund_core.policy.calendar import HOLIDAYS_FILE, ReviewCalendar, holidays_as_computed, review_timeline
from refund_core.policy.document import shipped_policy

HK = ZoneInfo("Asia/Hong_Kong")


def end_of_hk_day(day: str) -> datetime:
    return datetime.combine(date.fromisoformat(day), time(23, 59, 59, 999000), tzinfo=HK)


TIMELINE_CASES = [
    # The three examples of POLICY-RULES.md.
    pytest.param(datetime(2026, 12, 21, 10, tzinfo=HK), "2027-01-04", "2027-01-06", id="christmas-and-new-year"),
    pytest.param(datetime(2027, 2, 5, 10, tzinfo=HK), "2027-02-19", "2027-02-23", id="lunar-new-year"),
    pytest.param(datetime(2027, 3, 24, 10, tzinfo=HK), "2027-04-08", "2027-04-12", id="easter-and-ching-ming"),
    # Received on a Saturday: the next working day is working day 1.
    pytest.param(datetime(2026, 11, 28, 10, tzinfo=HK), "2026-12-09", "2026-12-11", id="saturday"),
    pytest.param(datetime(2026, 11, 28, 0, 0, tzinfo=HK), "2026-12-09", "2026-12-11", id="saturday-midnight"),
    pytest.param(datetime(2026, 12, 25, 10, tzinfo=HK), "2027-01-07", "2027-01-11", id="on-a-holiday"),
    # The Hong Kong date counts, not the UTC one.
    pytest.param(datetime(2026, 12, 6, 23, 59, tzinfo=HK), "2026-12-16", "2026-12-18", id="sunday-2359-hkt"),
    pytest.param(
        datetime(2026, 12, 6, 23, 59, 59, 999999, tzinfo=HK), "2026-12-16", "2026-12-18", id="sunday-last-microsecond"
    ),
    pytest.param(datetime(2026, 12, 7, 0, 0, tzinfo=HK), "2026-12-17", "2026-12-21", id="monday-0000-hkt"),
    # Monday 00:30 HKT is Sunday 16:30 UTC: still Monday, day 0.
    pytest.param(datetime(2026, 12, 6, 16, 30, tzinfo=UTC), "2026-12-17", "2026-12-21", id="utc-sunday-is-hk-monday"),
    # Sunday 23:59 HKT is Sunday 15:59 UTC.
    pytest.param(datetime(2026, 12, 6, 15, 59, tzinfo=UTC), "2026-12-16", "2026-12-18", id="utc-sunday-is-hk-sunday"),
]


@pytest.mark.parametrize(("received_at", "reminder_day", "deadline_day"), TIMELINE_CASES)
def test_review_timeline(received_at, reminder_day, deadline_day):
    timeline = review_timeline(received_at, shipped_policy())
    assert timeline.deadline == end_of_hk_day(deadline_day)
    assert timeline.reminder_at == end_of_hk_day(reminder_day)
    for moment in (timeline.deadline, timeline.reminder_at):
        assert moment.tzinfo is not None
        assert moment.utcoffset() == timedelta(0)


def test_deadline_is_returned_in_utc():
    timeline = review_timeline(datetime(2026, 12, 21, 10, tzinfo=HK), shipped_policy())
    assert timeline.deadline.tzinfo is UTC
    assert timeline.deadline.isoformat() == "2027-01-06T15:59:59.999000+00:00"
    assert timeline.reminder_at.isoformat() == "2027-01-04T15:59:59.999000+00:00"


def test_statutory_holidays_alone_would_give_the_wrong_deadline():
    statutory = shipped_policy().model_copy(update={"holiday_categories": ("public",)})
    timeline = review_timeline(datetime(2027, 3, 24, 10, tzinfo=HK), statutory)
    assert timeline.deadline == end_of_hk_day("2027-04-09")


def test_review_working_days_is_a_setting():
    policy = shipped_policy().model_copy(update={"review_working_days": 5, "reminder_working_days_before_deadline": 1})
    timeline = review_timeline(datetime(2026, 11, 28, 10, tzinfo=HK), policy)
    assert timeline.deadline == end_of_hk_day("2026-12-04")
    assert timeline.reminder_at == end_of_hk_day("2026-12-03")


@pytest.mark.parametrize(
    ("received_at", "seconds"),
    [
        pytest.param(datetime(2026, 12, 21, 10, tzinfo=HK), 100, id="100s"),
        pytest.param(datetime(2026, 12, 26, 23, 59, 30, tzinfo=HK), 60, id="60s-across-midnight-on-a-holiday"),
        pytest.param(datetime(2026, 12, 21, 2, tzinfo=UTC), 7, id="7s"),
    ],
)
def test_seconds_window_for_demos(received_at, seconds):
    timeline = review_timeline(received_at, shipped_policy(), window_seconds=seconds)
    assert timeline.deadline == received_at + timedelta(seconds=seconds)
    assert timeline.reminder_at == received_at + timedelta(seconds=seconds * 0.8)
    assert timeline.deadline.utcoffset() == timedelta(0)
    assert timeline.reminder_at.utcoffset() == timedelta(0)


WORKING_DAY_CASES = [
    pytest.param("2027-03-26", False, id="good-friday"),
    pytest.param("2027-03-27", False, id="day-after-good-friday-saturday"),
    pytest.param("2027-03-29", False, id="easter-monday"),
    pytest.param("2027-04-05", False, id="ching-ming"),
    pytest.param("2026-12-25", False, id="christmas"),
    pytest.param("2026-12-26", False, id="day-after-christmas-saturday"),
    pytest.param("2027-12-27", False, id="first-weekday-after-christmas-2027"),
    pytest.param("2027-01-01", False, id="new-year"),
    pytest.param("2027-02-08", False, id="lunar-new-year-3rd-day"),
    pytest.param("2027-02-09", False, id="lunar-new-year-4th-day"),
    pytest.param("2026-10-01", False, id="national-day"),
    pytest.param("2026-11-28", False, id="saturday"),
    pytest.param("2026-11-29", False, id="sunday"),
    pytest.param("2027-12-24", True, id="christmas-eve-friday"),
    pytest.param("2026-12-28", True, id="monday-after-christmas-2026"),
    pytest.param("2027-02-10", True, id="after-lunar-new-year"),
    pytest.param("2027-03-24", True, id="ordinary-wednesday"),
    pytest.param("2027-03-30", True, id="tuesday-after-easter"),
]


@pytest.mark.parametrize(("day", "working"), WORKING_DAY_CASES)
def test_is_working_day(day, working):
    assert ReviewCalendar(shipped_policy()).is_working_day(date.fromisoformat(day)) is working


def test_working_day_after():
    calendar = ReviewCalendar(shipped_policy())
    assert calendar.working_day_after(date(2027, 3, 26), 0) == date(2027, 3, 26)  # day 0 is day 0, even a holiday
    assert calendar.working_day_after(date(2027, 3, 25), 1) == date(2027, 3, 30)
    assert calendar.working_day_after(date(2026, 12, 24), 1) == date(2026, 12, 28)


@pytest.mark.parametrize(
    ("moment", "expected"),
    [
        pytest.param(datetime(2026, 12, 6, 16, 0, tzinfo=UTC), date(2026, 12, 7), id="utc-16h-is-next-hk-day"),
        pytest.param(datetime(2026, 12, 6, 15, 59, 59, tzinfo=UTC), date(2026, 12, 6), id="utc-15h59-same-day"),
        pytest.param(datetime(2026, 12, 6, 0, 0, tzinfo=HK), date(2026, 12, 6), id="hk-midnight"),
    ],
)
def test_local_date_is_the_hong_kong_date(moment, expected):
    assert ReviewCalendar(shipped_policy()).local_date(moment) == expected


def test_end_of_day_is_the_last_millisecond_in_hong_kong():
    end = ReviewCalendar(shipped_policy()).end_of(date(2027, 1, 6))
    assert end == datetime(2027, 1, 6, 15, 59, 59, 999000, tzinfo=UTC)
    assert end.astimezone(HK).time() == time(23, 59, 59, 999000)


def test_the_holidays_file_holds_what_the_holidays_package_computes() -> None:
    """Regenerate it (scripts/generate_holidays.py) when the package's Hong Kong holidays change."""
    document = json.loads(HOLIDAYS_FILE.read_text(encoding="utf-8"))
    first_year, last_year = document["years"]
    assert set(document["calendars"]) == {"optional", "public", "optional,public"}
    for name, days in document["calendars"].items():
        computed = holidays_as_computed(tuple(name.split(",")), first_year, last_year)
        assert {date.fromisoformat(day) for day in days} == computed, name


def test_two_categories_together_give_the_days_off_of_their_clashes() -> None:
    """2028-10-03, "The day following National Day": a day off the package gives only when the policy's two
    categories are counted together (National Day on a Sunday, the day after the Mid-Autumn Festival on the
    Wednesday), not in either alone."""
    calendar = ReviewCalendar(shipped_policy())
    assert calendar.is_working_day(date(2028, 10, 3)) is False


@pytest.mark.parametrize(
    ("day", "working"),
    [
        (date(2050, 12, 26), False),  # the first weekday after Christmas Day, in a year past the file's
        (date(2050, 12, 28), True),
        (date(2023, 1, 23), False),  # Lunar New Year, before the file's years
        (date(2023, 1, 26), True),
    ],
)
def test_a_year_beyond_the_file_is_asked_of_the_package(day: date, working: bool) -> None:
    calendar = ReviewCalendar(shipped_policy())
    assert calendar.is_working_day(day) is working
