"""The catalog file forms: YAML is parsed here (core reads no YAML), CSV by the core importer.

Both give rows of (line, raw item, line of each field) that ``core.catalog.importer`` validates,
so a mistake names its line in either form.
"""

from __future__ import annotations

from typing import Any

import yaml

from core.catalog.importer import ItemSpec, Row, bad_cell, item_specs, parse_catalog_csv


def parse_catalog(text: str, *, fmt: str) -> list[ItemSpec]:
    """Validate a whole file (``fmt`` "yaml" or "csv"); the first bad item raises InvalidInput."""
    if fmt == "csv":
        return parse_catalog_csv(text)
    if fmt != "yaml":
        raise ValueError(f"unknown catalog format {fmt!r}")
    return item_specs(_rows(text))


def _rows(text: str) -> list[Row]:
    try:
        node = yaml.compose(text)
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        raise bad_cell(mark.line + 1 if mark else 1, "file", "not_yaml",
                       detail=str(getattr(exc, "problem", exc))) from None
    if not isinstance(data, dict) or not isinstance(data.get("items"), list):
        raise bad_cell(1, "items", "no_items_list")
    item_nodes: list[Any] = []
    for key, value in node.value if isinstance(node, yaml.MappingNode) else []:
        if key.value == "items":
            item_nodes = list(value.value)
    rows: list[Row] = []
    for raw, item_node in zip(data["items"], item_nodes, strict=False):
        fields = {}
        if isinstance(item_node, yaml.MappingNode):
            fields = {str(k.value): k.start_mark.line + 1 for k, _ in item_node.value}
        rows.append((item_node.start_mark.line + 1, raw, fields))
    return rows
