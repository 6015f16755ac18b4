"""Load ``policy.yaml`` and report a bad field with its line number instead of a traceback."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from core.policy import Policy


class PolicyError(Exception):
    """The policy file is unreadable or invalid; ``str()`` is one line for the operator."""


def _line_index(node: yaml.Node, path: tuple[Any, ...], out: dict[tuple[Any, ...], int]) -> None:
    out[path] = node.start_mark.line + 1
    if isinstance(node, yaml.MappingNode):
        for key, value in node.value:
            out[path + (key.value,)] = key.start_mark.line + 1
            _line_index(value, path + (key.value,), out)
            out[path + (key.value,)] = key.start_mark.line + 1
    elif isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            _line_index(item, path + (i,), out)


def _nearest_line(lines: dict[tuple[Any, ...], int], loc: tuple[Any, ...]) -> int | None:
    for n in range(len(loc), -1, -1):
        if loc[:n] in lines:
            return lines[loc[:n]]
    return None


def parse_policy(text: str, source: str = "policy.yaml") -> Policy:
    try:
        node = yaml.compose(text)
        data = yaml.safe_load(text) or {}
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" line {mark.line + 1}" if mark else ""
        raise PolicyError(f"{source}{where}: not valid YAML ({getattr(exc, 'problem', exc)})") from None
    if not isinstance(data, dict):
        raise PolicyError(f"{source}: the top level must be a mapping")
    try:
        return Policy.model_validate(data)
    except ValidationError as exc:
        lines: dict[tuple[Any, ...], int] = {}
        if node is not None:
            _line_index(node, (), lines)
        first = exc.errors()[0]
        loc = tuple(first["loc"])
        field = ".".join(str(p) for p in loc) or "(top level)"
        line = _nearest_line(lines, loc)
        where = f" line {line}" if line else ""
        raise PolicyError(f"{source}{where}: {field}: {first['msg']}") from None


def load_policy(path: str | Path) -> Policy:
    p = Path(path)
    if not p.exists():
        packaged = Path(__file__).with_name("policy.yaml")
        if str(path) == "config/policy.yaml" and packaged.exists():
            p = packaged  # installed without a checkout: fall back to the shipped defaults
        else:
            raise PolicyError(f"{path}: policy file not found")
    return parse_policy(p.read_text(encoding="utf-8"), str(path))
