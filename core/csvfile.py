"""The CSV reader every import shares (directory, catalog, HR grants), so line numbers and
cell problems read the same everywhere."""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Sequence
from datetime import date

from core.errors import bad_cell

__all__ = ["bad_cell", "csv_records", "date_cell"]


_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")


def date_cell(line: int, column: str, value: str) -> date | None:
    """A ``YYYY-MM-DD`` cell of an imported file, None when empty, else InvalidInput(line)."""
    if not value:
        return None
    try:
        if not _DATE.fullmatch(value):
            raise ValueError
        return date.fromisoformat(value)
    except ValueError:
        raise bad_cell(line, column, "not_a_date", value=value) from None


def csv_records(text: str, *, required: Sequence[str]) -> list[tuple[int, dict[str, str]]]:
    """Rows of a headed UTF-8 CSV (BOM tolerated) as (physical start line, {column: stripped cell}).

    Header names are case-insensitive; blank rows are skipped; unknown columns are kept in the
    dicts for the caller to ignore. A missing required column or a row wider than the header
    raises InvalidInput with the line.
    """
    reader = csv.reader(io.StringIO(text.removeprefix("\ufeff"), newline=""))
    records: list[tuple[int, dict[str, str]]] = []
    header: list[str] | None = None
    start = 1
    try:
        for cells in reader:
            if header is None:
                header = _header(cells, required)
            elif any(c.strip() for c in cells):
                if len(cells) > len(header):
                    raise bad_cell(start, None, "too_many_cells", cells=len(cells),
                                   header=len(header))
                padded = cells + [""] * (len(header) - len(cells))
                records.append((start, {h: c.strip() for h, c in zip(header, padded, strict=True)}))
            start = reader.line_num + 1
    except csv.Error as exc:
        raise bad_cell(reader.line_num, None, "malformed_csv", detail=str(exc)) from exc
    if header is None:
        raise bad_cell(1, None, "no_header")
    return records


def _header(cells: list[str], required: Sequence[str]) -> list[str]:
    header = [c.strip().lower() for c in cells]
    for column in required:
        if column not in header:
            raise bad_cell(1, "header", "missing_column", name=column)
    dupes = sorted({h for h in header if h and header.count(h) > 1})
    if dupes:
        raise bad_cell(1, "header", "column_twice", name=dupes[0])
    return header
