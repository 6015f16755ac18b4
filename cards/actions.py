"""Typed button payloads (in the spirit of aiogram's ``CallbackData``).

A payload only *names* the target of a click (``ap:A12`` = approve approval A12). It is never proof
of anything: the core re-checks who may approve, confirm or fulfil. Packed payloads are at most
64 characters from ``[A-Za-z0-9:_-]``, so they fit a WeCom button ``key`` (≤ 1024 bytes), a DingTalk
card callback param and an HTML ``data-`` attribute without any escaping.

Wire format: ``<prefix>[:<value>]``.

| action | prefix | example |
|---|---|---|
| ApproveAction | ``ap`` | ``ap:A12:0`` (approval A12, step 0; ``ap:A12`` on older cards) |
| RejectAction | ``rj`` | ``rj:A12:0`` |
| ConfirmRedeem | ``cr`` | ``cr:K7F2QX`` |
| CancelRedeem | ``cx`` | ``cx:K7F2QX`` |
| FulfilOrder | ``ff`` | ``ff:O2405-0007`` |
| JoinAward (+1) | ``p1`` | ``p1:Z12`` |
| OpenCatalog | ``ct`` / ``ct:<ascii category>`` / ``cu:<base64url(utf-8 category)>`` |
"""

from __future__ import annotations

import base64
import binascii
import re
from dataclasses import dataclass
from typing import ClassVar, Self

MAX_PACKED = 64
PACKED_RE = re.compile(r"[A-Za-z0-9:_-]{1,64}")
ID_RE = re.compile(r"[A-Za-z0-9_-]{1,48}")
_B64_RE = re.compile(r"[A-Za-z0-9_-]+")


def _check_id(value: str, what: str) -> str:
    if not isinstance(value, str) or not ID_RE.fullmatch(value):
        raise ValueError(f"invalid {what}: {value!r} (want 1-48 of [A-Za-z0-9_-])")
    return value


class Action:
    """Base of all button payloads; subclasses register themselves by ``prefix``."""

    prefix: ClassVar[str] = ""
    _registry: ClassVar[dict[str, type[Action]]] = {}

    def __init_subclass__(cls, **kwargs: object) -> None:
        super().__init_subclass__(**kwargs)
        if cls.prefix:
            Action._registry[cls.prefix] = cls

    def pack(self) -> str:
        raise NotImplementedError

    @classmethod
    def _from_value(cls, prefix: str, value: str | None) -> Action:
        raise NotImplementedError

    @classmethod
    def unpack(cls, text: str) -> Self:
        """Parse ``text``; on a subclass also require that exact action type."""
        action = unpack(text)
        if not isinstance(action, cls):
            raise ValueError(f"not a {cls.__name__} payload: {text!r}")
        return action


@dataclass(frozen=True)
class _IdAction(Action):
    """An action whose only argument is an identifier from ``[A-Za-z0-9_-]``."""

    id_name: ClassVar[str] = "id"

    def _id(self) -> str:
        return str(getattr(self, self.id_name))

    def __post_init__(self) -> None:
        _check_id(self._id(), self.id_name)

    def pack(self) -> str:
        return f"{self.prefix}:{self._id()}"

    @classmethod
    def _from_value(cls, prefix: str, value: str | None) -> Action:
        if value is None:
            raise ValueError(f"{cls.__name__} needs a {cls.id_name}")
        return cls(value)  # type: ignore[call-arg]


@dataclass(frozen=True)
class _Decision(Action):
    """Approve or reject approval ``approval_id``; ``step`` (0-based) is the chain step the card
    was shown for, so a stale or doubled click cannot decide a later step. Cards sent before
    steps were pinned carry none (``ap:A12``) and decide whatever step is current."""

    approval_id: str
    step: int | None = None

    def __post_init__(self) -> None:
        _check_id(self.approval_id, "approval_id")
        if self.step is not None and not 0 <= self.step <= 99:
            raise ValueError(f"invalid step: {self.step!r}")

    def pack(self) -> str:
        tail = "" if self.step is None else f":{self.step}"
        return f"{self.prefix}:{self.approval_id}{tail}"

    @classmethod
    def _from_value(cls, prefix: str, value: str | None) -> Action:
        if value is None:
            raise ValueError(f"{cls.__name__} needs an approval_id")
        approval_id, sep, step = value.partition(":")
        if sep and not step.isdigit():
            raise ValueError(f"invalid step in payload: {value!r}")
        return cls(approval_id, int(step) if sep else None)


@dataclass(frozen=True)
class ApproveAction(_Decision):
    prefix: ClassVar[str] = "ap"


@dataclass(frozen=True)
class RejectAction(_Decision):
    prefix: ClassVar[str] = "rj"


@dataclass(frozen=True)
class ConfirmRedeem(_IdAction):
    code: str
    prefix: ClassVar[str] = "cr"
    id_name: ClassVar[str] = "code"


@dataclass(frozen=True)
class CancelRedeem(_IdAction):
    code: str
    prefix: ClassVar[str] = "cx"
    id_name: ClassVar[str] = "code"


@dataclass(frozen=True)
class FulfilOrder(_IdAction):
    order_no: str
    prefix: ClassVar[str] = "ff"
    id_name: ClassVar[str] = "order_no"


_UTF8_PREFIX = "cu"


@dataclass(frozen=True)
class OpenCatalog(Action):
    """Open the catalog, optionally at one category (any Unicode name that packs into 64 chars)."""

    category: str | None = None
    prefix: ClassVar[str] = "ct"

    def __post_init__(self) -> None:
        if self.category is not None:
            if not self.category or self.category != self.category.strip():
                raise ValueError(f"invalid category: {self.category!r}")
            if len(self.pack()) > MAX_PACKED:
                raise ValueError(f"category too long for a button payload: {self.category!r}")

    def pack(self) -> str:
        if self.category is None:
            return self.prefix
        if ID_RE.fullmatch(self.category):
            return f"{self.prefix}:{self.category}"
        encoded = base64.urlsafe_b64encode(self.category.encode("utf-8")).decode("ascii")
        return f"{_UTF8_PREFIX}:{encoded.rstrip('=')}"

    @classmethod
    def _from_value(cls, prefix: str, value: str | None) -> Action:
        if prefix == cls.prefix:
            return cls(value)
        if value is None or not _B64_RE.fullmatch(value):
            raise ValueError("cu needs a base64url category")
        return cls(_decode_b64(value))


@dataclass(frozen=True)
class JoinAward(_IdAction):
    """+1 on an award shown in a group: the clicker joins it from their own allowance."""

    award_id: str
    prefix: ClassVar[str] = "p1"
    id_name: ClassVar[str] = "award_id"


def _decode_b64(value: str) -> str:
    try:
        raw = base64.urlsafe_b64decode(value + "=" * (-len(value) % 4))
        text = raw.decode("utf-8")
    except (binascii.Error, UnicodeDecodeError) as exc:
        raise ValueError(f"bad category encoding: {value!r}") from exc
    # Only the canonical encoding of a non-ASCII-id name is accepted, so every
    # payload has exactly one spelling (pack(unpack(x)) == x).
    if ID_RE.fullmatch(text) or OpenCatalog(text).pack() != f"{_UTF8_PREFIX}:{value}":
        raise ValueError(f"non-canonical category encoding: {value!r}")
    return text


def unpack(text: str) -> Action:
    """Parse any packed payload; raise ``ValueError`` on anything else."""
    if not isinstance(text, str) or not PACKED_RE.fullmatch(text):
        raise ValueError(f"not a button payload: {text!r}")
    prefix, sep, value = text.partition(":")
    if sep and not value:
        raise ValueError(f"empty value in payload: {text!r}")
    cls = Action._registry.get(prefix)
    if prefix == _UTF8_PREFIX:
        cls = OpenCatalog
    if cls is None:
        raise ValueError(f"unknown payload prefix: {prefix!r}")
    action = cls._from_value(prefix, value if sep else None)
    if action.pack() != text:
        raise ValueError(f"non-canonical payload: {text!r}")
    return action


__all__ = [
    "Action",
    "ApproveAction",
    "CancelRedeem",
    "ConfirmRedeem",
    "FulfilOrder",
    "JoinAward",
    "OpenCatalog",
    "RejectAction",
    "unpack",
]
