"""The problems of an imported file's cells (``core.problems.PROBLEMS``) in Chinese.

Their English is the core's own sentence — the refusal's ``message``, which the CLI prints — so
it is not repeated here; ``problem_text`` picks one or the other. ``{value}`` is the cell as
written, ``{column}`` the file's column name (kept as the file spells it: HR typed it).
"""

from __future__ import annotations

# names that are not a column of the file
COLUMNS_ZH = {"header": "表头", "file": "文件", "item": "商品"}

ZH: dict[str, str] = {
    "required": "必须填写",
    "not_a_date": "「{value}」不是日期（YYYY-MM-DD）",
    "not_a_birthday": "「{value}」不是 MM-DD 或 YYYY-MM-DD",
    "not_positive": "「{value}」不是正整数",
    "too_long": "超过 {max} 个字",
    "has_spaces": "「{value}」含有空格",
    "not_valid": "「{value}」格式不对",
    "not_one_of": "「{value}」不在可选值之中（{choices}）",
    "unknown_role": "没有「{value}」这个角色（可选：{choices}）",
    "value_used_on": "「{value}」已在第 {first} 行用过",
    "used_on": "已在第 {first} 行用过",
    "not_future": "必须是将来的日期",
    "not_active": "「{value}」不是在职员工",
    "not_an_active_employee": "不是在职员工",
    "unknown_employee": "没有这位员工",
    "inactive_employee": "员工已离职",
    "own_manager": "员工不能是自己的上级",
    "unknown_manager": "没有员工「{value}」",
    "belongs_to": "「{value}」已属于 {owner}",
    "missing_column": "缺少必需的列 {name}",
    "column_twice": "列 {name} 出现了两次",
    "too_many_cells": "这一行有 {cells} 格，表头只有 {header} 格",
    "malformed_csv": "不是有效的 CSV（{detail}）",
    "no_header": "文件是空的：没有表头行",
    "no_rows": "文件里没有任何人：不会把所有人都设为离职",
    "not_a_number": "「{value}」不是整数",
    "not_at_least": "「{value}」小于 {limit}",
    "not_yes_no": "「{value}」不是“是”或“否”",
    "not_a_moment": "「{value}」不是日期（2026-03-01）或日期时间",
    "code_too_long": "有券码超过 {max} 个字",
    "codes_need_code_kind": "只有 code 类商品才有券码",
    "not_after_start": "必须晚于 available_from",
    "not_a_field": "不是商品的字段",
    "not_a_mapping": "应当是一组字段",
    "sku_used_on": "{value} 已在第 {first} 行",
    "not_yaml": "不是有效的 YAML（{detail}）",
    "no_items_list": "文件顶层需要 items: 列表",
}
