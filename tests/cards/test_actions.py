"""Button payloads: pack / unpack round trip, format limits and rejection of garbage."""

from __future__ import annotations

import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cards.actions import (
    Action,
    ApproveAction,
    CancelRedeem,
    ConfirmRedeem,
    FulfilOrder,
    OpenCatalog,
    RejectAction,
    unpack,
)

PACKED = re.compile(r"[A-Za-z0-9:_-]{1,64}")
ids = st.from_regex(r"[A-Za-z0-9_-]{1,48}", fullmatch=True)
categories = st.one_of(
    st.none(),
    ids,
    st.text(min_size=1, max_size=15).filter(lambda s: s == s.strip() and s != ""),
)
actions = st.one_of(
    ids.map(ApproveAction),
    ids.map(RejectAction),
    ids.map(ConfirmRedeem),
    ids.map(CancelRedeem),
    ids.map(FulfilOrder),
    categories.map(OpenCatalog),
)


@settings(max_examples=50, deadline=None)
@given(actions)
def test_pack_unpack_round_trip(action: Action) -> None:
    packed = action.pack()
    assert PACKED.fullmatch(packed), packed
    assert unpack(packed) == action
    assert type(action).unpack(packed) == action


@pytest.mark.parametrize(
    ("action", "packed"),
    [
        (ApproveAction("A12"), "ap:A12"),
        (RejectAction("A12"), "rj:A12"),
        (ConfirmRedeem("K7F2QX"), "cr:K7F2QX"),
        (CancelRedeem("K7F2QX"), "cx:K7F2QX"),
        (FulfilOrder("O2603-0007"), "ff:O2603-0007"),
        (OpenCatalog(None), "ct"),
        (OpenCatalog("books"), "ct:books"),
        (OpenCatalog("数码"), "cu:5pWw56CB"),
    ],
)
def test_known_wire_format(action: Action, packed: str) -> None:
    assert action.pack() == packed
    assert unpack(packed) == action


@pytest.mark.parametrize(
    "garbage",
    [
        "", "ap", "ap:", ":A12", "zz:A12", "ap:A12:x", "AP:A12", "ap:A 12", "ap:<script>",
        "ct:", "cu:", "cu:!!", "cu:5pWw56CB=", "cu:Ym9va3M", "cu:_w", "ct:books:x",
        "ap:" + "A" * 49, "x" * 65, "ap:A12\n", " ap:A12", "同意 A12",
    ],
)
def test_garbage_is_rejected(garbage: str) -> None:
    with pytest.raises(ValueError):
        unpack(garbage)


def test_non_strings_are_rejected() -> None:
    with pytest.raises(ValueError):
        unpack(None)  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        unpack(b"ap:A12")  # type: ignore[arg-type]


def test_subclass_unpack_requires_its_own_type() -> None:
    assert ApproveAction.unpack("ap:A12").approval_id == "A12"
    with pytest.raises(ValueError):
        ApproveAction.unpack("rj:A12")


@pytest.mark.parametrize("bad", ["", "A 12", "A12:x", "<b>", "A" * 49, "同意"])
def test_constructors_validate_ids(bad: str) -> None:
    with pytest.raises(ValueError):
        ApproveAction(bad)
    with pytest.raises(ValueError):
        FulfilOrder(bad)


@pytest.mark.parametrize("bad", ["", " books", "长" * 40])
def test_catalog_category_limits(bad: str) -> None:
    with pytest.raises(ValueError):
        OpenCatalog(bad)
