"""What can be wrong with an imported file (directory, grants, catalog): typed problems.

A problem names its column, its kind and what fills its sentence, so each surface says it in
its reader's language (``cards.texts.problem_text``); ``CellProblem.english`` is the sentence
the refusal carries as its ``message`` (the CLI's and the logs').
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

# Each kind in English; ``{value!r}`` is the cell as written (flattened, cut at 40). The string
# table has each in Chinese (cards.texts.problems).
PROBLEMS: dict[str, str] = {
    "required": "is required",
    "not_a_date": "{value!r} is not a date (YYYY-MM-DD)",
    "not_a_birthday": "{value!r} is not MM-DD or YYYY-MM-DD",
    "not_positive": "{value!r} is not a positive whole number",
    "too_long": "longer than {max} characters",
    "has_spaces": "{value!r} contains spaces",
    "not_valid": "{value!r} is not a valid {column}",
    "not_one_of": "{value!r} is not one of {choices}",
    "unknown_role": "unknown role {value!r} (one of {choices})",
    "value_used_on": "{value!r} already used on line {first}",
    "used_on": "already used on line {first}",
    "not_future": "must be in the future",
    "not_active": "{value!r} is not an active employee",
    "not_an_active_employee": "not an active employee",
    "unknown_employee": "unknown employee",
    "inactive_employee": "inactive employee",
    "own_manager": "an employee cannot be their own manager",
    "unknown_manager": "unknown employee {value!r}",
    "belongs_to": "{value!r} already belongs to {owner}",
    "missing_column": "required column {name} is missing",
    "column_twice": "column {name} appears twice",
    "too_many_cells": "row has {cells} cells, header has {header}",
    "malformed_csv": "malformed CSV: {detail}",
    "no_header": "empty file: the header row is missing",
    "no_rows": "no rows: refusing to deactivate everyone",
    # the catalog file's items (core.catalog.importer)
    "not_a_number": "{value!r} is not a whole number",
    "not_at_least": "{value!r} is less than {limit}",
    "not_yes_no": "{value!r} is not yes or no",
    "not_a_moment": "{value!r} is not an ISO date (2026-03-01) or date-time",
    "code_too_long": "a code is longer than {max} characters",
    "codes_need_code_kind": "only items of kind code carry codes",
    "not_after_start": "must be after available_from",
    "not_a_field": "is not a field of an item",
    "not_a_mapping": "expected a mapping of columns",
    "sku_used_on": "{value} is already on line {first}",
    "not_yaml": "not valid YAML ({detail})",
    "no_items_list": "a top-level items: list is needed",
}


@dataclass(frozen=True)
class CellProblem:
    """One problem of an imported file: its column (None for the row or file as a whole), its
    kind (a key of ``PROBLEMS``) and what fills the sentence."""

    column: str | None
    kind: str
    params: tuple[tuple[str, Any], ...] = ()

    @property
    def english(self) -> str:
        text = PROBLEMS[self.kind].format(column=self.column, **dict(self.params))
        return f"{self.column}: {text}" if self.column else text


def cell_value(value: str) -> str:
    """A cell as a problem shows it: whitespace runs flattened, cut at 40 characters."""
    flat = " ".join(value.split())
    return flat if len(flat) <= 40 else flat[:40] + "…"


def problem(column: str | None, kind: str, **params: Any) -> CellProblem:
    if "value" in params:
        params["value"] = cell_value(str(params["value"]))
    return CellProblem(column, kind, tuple(params.items()))
