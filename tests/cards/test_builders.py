"""Builders: local dates, vocabulary checks, texts in both locales."""

from __future__ import annotations

from datetime import UTC, datetime
from enum import StrEnum

import pytest

from cards import builders as b
from cards.render_text import render_plain
from cards.texts import Locale
from cards.views import APPROVAL_KINDS, DECIDED_STATUSES, ORDER_STATUSES

START = datetime(2027, 3, 31, 16, 0, tzinfo=UTC)


def test_expiry_is_shown_as_last_local_day() -> None:
    card = b.expiry_reminder(10, START, 1, "zh")
    assert "2027-03-31" in render_plain(card)
    utc_card = b.expiry_reminder(10, START, 1, "zh", tz="UTC")
    assert "2027-03-31" in render_plain(utc_card)
    naive = b.balance(1, 0, 10, datetime(2027, 3, 31, 16, 0), "zh")  # naive = UTC
    assert "2027-03-31 到期" in render_plain(naive)


def test_confirm_deadline_in_shanghai_time() -> None:
    card = b.redemption_confirm("K1", "咖啡", 1, 10, 0, datetime(2026, 3, 15, 6, 40, tzinfo=UTC))
    assert "2026-03-15 14:40" in (card.footer or "")
    ny = b.redemption_confirm("K1", "咖啡", 1, 10, 0, datetime(2026, 3, 15, 6, 40, tzinfo=UTC),
                              tz="America/New_York")
    assert "2026-03-15 02:40" in (ny.footer or "")


class Status(StrEnum):
    PLACED = "placed"


def test_statuses_accept_str_enums_and_reject_unknowns() -> None:
    card = b.order_status("O1", "x", 1, 1, Status.PLACED, None, None, "zh", for_hr=True)
    assert card.buttons[0].fallback == "发货 O1"
    with pytest.raises(ValueError):
        b.order_status("O1", "x", 1, 1, "shipped", None, None, "zh")
    with pytest.raises(ValueError):
        b.approval_request("A1", "bonus", "x", 1, "y", "zh")
    with pytest.raises(ValueError):
        b.approval_decided("A1", "pending", "x", None, "zh")


def test_hr_order_buttons_only_while_placed_and_no_code_for_hr() -> None:
    for status in ("pending_approval", "fulfilled", "cancelled", "rejected"):
        assert not b.order_status("O1", "x", 1, 1, status, None, None, "zh", for_hr=True).buttons
    hr = b.order_status("O1", "x", 1, 1, "placed", "SECRET-CODE", None, "zh", for_hr=True)
    assert "SECRET-CODE" not in render_plain(hr)


def test_button_ids_are_validated_by_builders() -> None:
    with pytest.raises(ValueError):
        b.approval_request("A 12", "award", "x", 1, "y", "zh")


@pytest.mark.parametrize("locale", ["zh", "en"])
def test_every_kind_and_status_has_text(locale: Locale) -> None:
    for kind in APPROVAL_KINDS:
        assert b.approval_request("A1", kind, "x", 1, "y", locale).title
    for status in DECIDED_STATUSES:
        assert b.approval_decided("A1", status, "x", None, locale).title
    for status in ORDER_STATUSES:
        for for_hr in (False, True):
            card = b.order_status("O1", "x", 1, 1, status, "C1", "n", locale, for_hr)
            assert card.title
