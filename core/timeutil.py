"""Local calendar helpers: months, days and expiry instants in the configured time zone."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from core.policy import Policy


def tz(policy: Policy) -> ZoneInfo:
    return ZoneInfo(policy.timezone)


def local_date(now: datetime, policy: Policy) -> date:
    return now.astimezone(tz(policy)).date()


def month_key(now: datetime, policy: Policy) -> str:
    return local_date(now, policy).strftime("%Y-%m")


def day_key(now: datetime, policy: Policy) -> str:
    return local_date(now, policy).isoformat()


def start_of_local_day(d: date, policy: Policy) -> datetime:
    return datetime.combine(d, time(0), tz(policy)).astimezone(UTC)


def add_months(d: date, months: int) -> date:
    """First day of the month ``months`` after ``d``'s month."""
    index = d.year * 12 + d.month - 1 + months
    return date(index // 12, index % 12 + 1, 1)


def month_bounds(month: str, policy: Policy) -> tuple[datetime, datetime]:
    """UTC [start, end) of a local ``YYYY-MM``."""
    first = date(int(month[:4]), int(month[5:7]), 1)
    return start_of_local_day(first, policy), start_of_local_day(add_months(first, 1), policy)


def default_expiry(now: datetime, policy: Policy) -> datetime:
    """When a credit made at ``now`` expires (exclusive instant, UTC).

    rolling_months: the end of the N-th month after the grant (granted 2026-03-15 with N=12 →
    expires at 2027-04-01 00:00 local, i.e. after 31 Mar 2027). fixed_date: the end of the first
    ``MM-DD`` strictly after the grant day.
    """
    today = local_date(now, policy)
    if policy.expiry.mode == "rolling_months":
        return start_of_local_day(add_months(today, policy.expiry.months + 1), policy)
    month, day = (int(p) for p in policy.expiry.fixed_date.split("-"))
    candidate = _safe_date(today.year, month, day)
    if candidate <= today:
        candidate = _safe_date(today.year + 1, month, day)
    return start_of_local_day(candidate + timedelta(days=1), policy)


def _safe_date(year: int, month: int, day: int) -> date:
    while True:
        try:
            return date(year, month, day)
        except ValueError:  # 02-29 in a common year → 02-28
            day -= 1
