"""Business-time arithmetic for the review SLA.

Business time runs Monday–Friday (PRM["BUSINESS_WEEKDAYS"]) between
PRM["BUSINESS_DAY_START_HOUR"] and PRM["BUSINESS_DAY_END_HOUR"] in PRM["BUSINESS_TIME_ZONE"],
except on holidays (the `Holiday` table plus ISO dates in PRM["HOLIDAYS"]). An SLA of
N business days is N × the working-day length of business time, so a registration submitted
on Monday 10:00 with the default 2 days is due on Wednesday 10:00, and one submitted on
Friday 17:00 is due on Tuesday 17:00.
"""

from __future__ import annotations

import datetime as dt
import zoneinfo

from django.conf import settings
from django.utils import timezone

from deals.models import Holiday

from ._common import prm_setting

_MAX_DAYS = 3660  # a safety stop: no SLA spans ten years of holidays


def business_zone() -> zoneinfo.ZoneInfo:
    return zoneinfo.ZoneInfo(prm_setting("BUSINESS_TIME_ZONE", settings.TIME_ZONE))


def _day_bounds() -> tuple[dt.time, dt.time]:
    start = int(prm_setting("BUSINESS_DAY_START_HOUR", 9))
    end = int(prm_setting("BUSINESS_DAY_END_HOUR", 18))
    return dt.time(start), dt.time(end)


def workday_length() -> dt.timedelta:
    start, end = _day_bounds()
    return dt.datetime.combine(dt.date.min, end) - dt.datetime.combine(dt.date.min, start)


def holidays_between(first: dt.date, last: dt.date) -> set[dt.date]:
    """Holidays in [first, last]: one query, plus the dates configured in settings."""
    dates = set(Holiday.objects.filter(date__gte=first, date__lte=last).values_list("date", flat=True))
    for value in prm_setting("HOLIDAYS", ()):
        day = value if isinstance(value, dt.date) else dt.date.fromisoformat(str(value))
        if first <= day <= last:
            dates.add(day)
    return dates


def _holidays_for(local_start: dt.datetime, duration: dt.timedelta) -> set[dt.date]:
    # Generous window: calendar days ≈ 3× business days, plus a year of holidays.
    days = int(duration / workday_length() * 3) if workday_length() else 0
    return holidays_between(local_start.date(), (local_start + dt.timedelta(days=days + 366)).date())


def _is_business_day(day: dt.date, holidays: set[dt.date], weekdays: set[int]) -> bool:
    return day.weekday() in weekdays and day not in holidays


def add_business_time(
    start: dt.datetime, duration: dt.timedelta, *, holidays: set[dt.date] | None = None
) -> dt.datetime:
    """The aware datetime at which `duration` of business time has elapsed after `start`.
    `holidays` (optional) saves the lookup when the caller already has them."""
    zone = business_zone()
    day_start, day_end = _day_bounds()
    weekdays = set(prm_setting("BUSINESS_WEEKDAYS", (0, 1, 2, 3, 4)))
    local = timezone.localtime(start, zone)
    if holidays is None:
        holidays = _holidays_for(local, duration)
    remaining = duration
    day = local.date()
    for _ in range(_MAX_DAYS):
        if _is_business_day(day, holidays, weekdays):
            opens = dt.datetime.combine(day, day_start, tzinfo=zone)
            closes = dt.datetime.combine(day, day_end, tzinfo=zone)
            begin = max(opens, local)
            if begin < closes:
                available = closes - begin
                if remaining <= available:
                    return (begin + remaining).astimezone(dt.UTC)
                remaining -= available
        day += dt.timedelta(days=1)
    raise ValueError("Business calendar has no working time within ten years.")


def business_time_between(start: dt.datetime, end: dt.datetime) -> dt.timedelta:
    """Business time elapsed from `start` to `end` (negative when `end` is earlier)."""
    if end < start:
        return -business_time_between(end, start)
    zone = business_zone()
    day_start, day_end = _day_bounds()
    weekdays = set(prm_setting("BUSINESS_WEEKDAYS", (0, 1, 2, 3, 4)))
    local_start, local_end = timezone.localtime(start, zone), timezone.localtime(end, zone)
    holidays = holidays_between(local_start.date(), local_end.date())
    total = dt.timedelta(0)
    day = local_start.date()
    while day <= local_end.date():
        if _is_business_day(day, holidays, weekdays):
            opens = max(dt.datetime.combine(day, day_start, tzinfo=zone), local_start)
            closes = min(dt.datetime.combine(day, day_end, tzinfo=zone), local_end)
            if closes > opens:
                total += closes - opens
        day += dt.timedelta(days=1)
    return total


def review_sla() -> dt.timedelta:
    """The review SLA as business time: PRM["DEAL_REVIEW_SLA_BUSINESS_DAYS"] working days."""
    return workday_length() * float(prm_setting("DEAL_REVIEW_SLA_BUSINESS_DAYS", 2))


def review_deadlines(submitted_at: dt.datetime) -> tuple[dt.datetime, dt.datetime]:
    """(reminder_at, due_at): the reminder fires at PRM["DEAL_REVIEW_REMINDER_FRACTION"] of the SLA."""
    sla = review_sla()
    fraction = float(prm_setting("DEAL_REVIEW_REMINDER_FRACTION", 0.75))
    holidays = _holidays_for(timezone.localtime(submitted_at, business_zone()), sla)
    return (
        add_business_time(submitted_at, sla * fraction, holidays=holidays),
        add_business_time(submitted_at, sla, holidays=holidays),
    )
