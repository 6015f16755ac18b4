"""One catalog item as written in the import file (SPEC section 6, "Catalog YAML")."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator
from pydantic_core import PydanticCustomError

Kind = Literal["physical", "code", "leave", "service"]
COLUMNS = ("sku", "name", "points", "category", "stock", "limit_per_employee", "kind",
           "requires_approval", "description", "image_url", "available_from", "available_until",
           "codes", "active")
_TRUE = {"true", "yes", "y", "1", "on", "是", "需要"}
_FALSE = {"false", "no", "n", "0", "off", "否", "不需要"}


class ItemSpec(BaseModel):
    """A validated item. Dates stay as written (``date``, naive or aware ``datetime``); the
    importer places them in the policy time zone."""

    model_config = ConfigDict(extra="forbid", coerce_numbers_to_str=True, str_strip_whitespace=True)

    sku: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")
    name: str = Field(min_length=1, max_length=200)
    points: int = Field(gt=0)
    category: str = Field(default="", max_length=64)
    stock: int | None = Field(default=None, ge=0)
    limit_per_employee: int | None = Field(default=None, ge=1)
    kind: Kind = "physical"
    requires_approval: bool = False
    description: str = Field(default="", max_length=1000)
    image_url: str | None = Field(default=None, max_length=500)
    available_from: datetime | date | None = None
    available_until: datetime | date | None = None
    codes: list[str] = Field(default_factory=list)
    active: bool = True

    @model_validator(mode="before")
    @classmethod
    def _blanks_take_defaults(cls, data: Any) -> Any:
        # An empty CSV cell or a YAML "~" means "use the default".
        if isinstance(data, dict):
            return {k: v for k, v in data.items()
                    if not (v is None or (isinstance(v, str) and not v.strip()))}
        return data

    @field_validator("kind", mode="before")
    @classmethod
    def _kind_lower(cls, v: Any) -> Any:
        return v.strip().lower() if isinstance(v, str) else v

    @field_validator("requires_approval", "active", mode="before")
    @classmethod
    def _boolean(cls, v: Any) -> Any:
        if isinstance(v, str):
            word = v.strip().lower()
            if word in _TRUE or word in _FALSE:
                return word in _TRUE
        return v

    @field_validator("available_from", "available_until", mode="before")
    @classmethod
    def _iso(cls, v: Any) -> Any:
        if not isinstance(v, str):
            return v
        text = v.strip()
        try:
            return date.fromisoformat(text) if len(text) == 10 else datetime.fromisoformat(text)
        except ValueError:
            raise PydanticCustomError("not_a_moment", "expected an ISO date (2026-03-01) or "
                                      "date-time") from None

    @field_validator("codes", mode="before")
    @classmethod
    def _code_list(cls, v: Any) -> Any:
        if v is None:
            return []
        if isinstance(v, str):
            v = v.split("|")
        if isinstance(v, list):
            return [str(c).strip() for c in v if c is not None and str(c).strip()]
        return v

    @field_validator("codes")
    @classmethod
    def _code_length(cls, v: list[str]) -> list[str]:
        if any(len(c) > 200 for c in v):
            raise PydanticCustomError("code_too_long", "a code is longer than {max} characters",
                                      {"max": 200})
        return list(dict.fromkeys(v))

    @model_validator(mode="after")
    def _consistent(self) -> ItemSpec:
        if self.codes and self.kind != "code":
            raise PydanticCustomError("codes_need_code_kind",
                                      "codes: only items of kind code carry codes")
        start = _comparable(self.available_from, end=False)
        end = _comparable(self.available_until, end=True)
        if start is not None and end is not None and start.tzinfo == end.tzinfo and start >= end:
            raise PydanticCustomError("not_after_start",
                                      "available_until: must be after available_from")
        return self


def _comparable(value: datetime | date | None, *, end: bool) -> datetime | None:
    """A date as a naive local instant (an end date means the end of that day)."""
    if value is None or isinstance(value, datetime):
        return value
    return datetime.combine(value, time(0)) + timedelta(days=1 if end else 0)


@dataclass(frozen=True)
class CatalogImportReport:
    created: int
    updated: int
    codes_added: int
