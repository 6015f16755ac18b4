"""Worked examples for the directory CSV import (SPEC section 6) and masking (section 8)."""

from __future__ import annotations

from datetime import date, datetime

import pytest
from sqlalchemy import func, select

from core import errors
from core.db import Database
from core.directory.importer import (
    import_employees,
    mask_email,
    mask_mobile,
    parse_directory_csv,
)
from core.ledger.verify import verify
from core.models import Account, Employee
from tests.factories import add_employee

HEADER = ("employee_id,name,department,manager_id,roles,wecom_userid,dingtalk_userid,hire_date,"
          "birthday,locale,mobile,email")
GOOD = (
    "\ufeff" + HEADER + ",工位\r\n"
    "E1,陈静,总经办,,admin,chenjing,dt_chenjing,2018-03-01,05-12,zh,13800000001,cj@example.com,A1\r\n"
    "E2,林芳,人力资源部,E1,hr|admin,linfang,,2019-07-15,1990-08-21,en,,,B2\r\n"
    "E3,赵磊,研发部,E1,,,,,,,,,\r\n"
)


async def _count(db: Database) -> tuple[int, int]:
    async with db.uow() as s:
        emps = await s.scalar(select(func.count()).select_from(Employee))
        accs = await s.scalar(select(func.count()).select_from(Account).where(Account.kind == "employee"))
    return int(emps or 0), int(accs or 0)


def test_parse_tolerates_bom_and_ignores_unknown_columns() -> None:
    rows = parse_directory_csv(GOOD)
    assert [r.employee_id for r in rows] == ["E1", "E2", "E3"]
    e1, e2, e3 = rows
    assert (e1.line, e2.line, e3.line) == (2, 3, 4)
    assert e1.roles == ("admin",) and e2.roles == ("hr", "admin")
    assert e1.hire_date == date(2018, 3, 1) and e1.birthday == "05-12"
    assert e2.birthday == "08-21" and e2.locale == "en" and e2.dingtalk_userid is None
    assert e3.hire_date is None and e3.locale == "zh" and e3.manager_id == "E1" and e3.roles == ()


def test_only_id_and_name_are_required() -> None:
    rows = parse_directory_csv("name,employee_id\n王伟,E9\n\n")
    assert rows[0].employee_id == "E9" and rows[0].columns == {"employee_id", "name"}


def test_quoted_multiline_cell_keeps_physical_line_numbers() -> None:
    text = 'employee_id,name,department\nE1,"张\n三",研发部\nE2,李四,bad,extra\n'
    with pytest.raises(errors.InvalidInput) as exc:
        parse_directory_csv(text)
    assert exc.value.params["line"] == 4  # E1 spans lines 2-3


@pytest.mark.parametrize(("row", "line", "column"), [
    ("E5,,研发部,,,,,,,,,", 3, "name"),
    (",无名,研发部,,,,,,,,,", 3, "employee_id"),
    ("E5,钱五,研发部,,boss,,,,,,,", 3, "roles"),
    ("E5,钱五,研发部,,,,,2020/01/02,,,,", 3, "hire_date"),
    ("E5,钱五,研发部,,,,,2020-02-30,,,,", 3, "hire_date"),
    ("E5,钱五,研发部,,,,,,13-01,,,", 3, "birthday"),
    ("E5,钱五,研发部,,,,,,,fr,,", 3, "locale"),
    ("E5,钱五,研发部,,,,,,,,abc,", 3, "mobile"),
    ("E5,钱五,研发部,,,,,,,,,not-an-email", 3, "email"),
    ("E1,重复,研发部,,,,,,,,,", 3, "employee_id"),
    ("E5,钱五,研发部,,,a,,,,,,", 3, "wecom_userid"),
])
async def test_bad_row_reports_line_and_imports_nothing(
    db: Database, now: datetime, row: str, line: int, column: str,
) -> None:
    text = f"{HEADER}\nE1,陈静,总经办,,,a,,,,,,\n{row}\nE6,孙六,研发部,,,,,,,,,\n"
    with pytest.raises(errors.InvalidInput) as exc:
        parse_directory_csv(text)
    assert exc.value.params["line"] == line
    assert exc.value.params["message"].startswith(f"{column}: ")
    assert "\n" not in exc.value.params["message"]
    assert await _count(db) == (0, 0)


def test_header_without_required_column_is_line_1() -> None:
    with pytest.raises(errors.InvalidInput) as exc:
        parse_directory_csv("employee_id,department\nE1,研发部\n")
    assert exc.value.params == {"line": 1, "field": "header",
                                "message": "header: required column name is missing"}


def test_birthday_feb_29_is_valid() -> None:
    assert parse_directory_csv("employee_id,name,birthday\nE1,甲,02-29\n")[0].birthday == "02-29"


async def test_import_creates_employees_and_accounts(db: Database, now: datetime) -> None:
    async with db.uow() as s:
        report = await import_employees(s, rows=parse_directory_csv(GOOD), now=now)
    assert (report.created, report.updated, report.unchanged) == (["E1", "E2", "E3"], [], [])
    assert await _count(db) == (3, 3)
    async with db.uow() as s:
        e2 = await s.get(Employee, "E2")
        assert e2 is not None and e2.roles == "hr|admin" and e2.manager_id == "E1"
        assert e2.locale == "en" and e2.hire_date == date(2019, 7, 15)
        assert await verify(s) == []
    async with db.uow() as s:  # the same file again changes nothing
        again = await import_employees(s, rows=parse_directory_csv(GOOD), now=now)
    assert again.unchanged == ["E1", "E2", "E3"] and again.created == again.updated == []


async def test_update_keeps_columns_the_file_does_not_carry(db: Database, now: datetime) -> None:
    async with db.uow() as s:
        await import_employees(s, rows=parse_directory_csv(GOOD), now=now)
    async with db.uow() as s:
        report = await import_employees(
            s, rows=parse_directory_csv("employee_id,name,department\nE3,赵磊,平台部\n"), now=now)
    assert report.updated == ["E3"] and report.unchanged == []
    async with db.uow() as s:
        e3 = await s.get(Employee, "E3")
        assert e3 is not None and (e3.department, e3.manager_id) == ("平台部", "E1")


async def test_dry_run_writes_nothing(db: Database, now: datetime) -> None:
    async with db.uow() as s:
        report = await import_employees(s, rows=parse_directory_csv(GOOD), dry_run=True, now=now)
    assert report.created == ["E1", "E2", "E3"] and report.dry_run
    assert await _count(db) == (0, 0)


async def test_deactivate_missing_and_reactivate(db: Database, now: datetime) -> None:
    async with db.uow() as s:
        await import_employees(s, rows=parse_directory_csv(GOOD), now=now)
    only_e1 = f"{HEADER}\nE1,陈静,总经办,,admin,chenjing,dt_chenjing,2018-03-01,05-12,zh,13800000001,cj@example.com\n"
    async with db.uow() as s:
        report = await import_employees(s, rows=parse_directory_csv(only_e1),
                                        deactivate_missing=True, now=now)
    assert report.deactivated == ["E2", "E3"] and report.unchanged == ["E1"]
    async with db.uow() as s:
        active = {e: a for e, a in await s.execute(select(Employee.employee_id, Employee.active))}
    assert active == {"E1": True, "E2": False, "E3": False}  # deactivated, never deleted
    async with db.uow() as s:
        back = await import_employees(s, rows=parse_directory_csv("employee_id,name\nE3,赵磊\n"),
                                      now=now)
        assert back.updated == ["E3"]
        e3 = await s.get(Employee, "E3")
        assert e3 is not None and e3.active


async def test_empty_file_never_deactivates_everyone(db: Database, now: datetime) -> None:
    async with db.uow() as s:
        await add_employee(s, "E1")
    with pytest.raises(errors.InvalidInput):
        async with db.uow() as s:
            await import_employees(s, rows=parse_directory_csv(HEADER + "\n"),
                                   deactivate_missing=True, now=now)
    async with db.uow() as s:
        e1 = await s.get(Employee, "E1")
        assert e1 is not None and e1.active


async def test_unknown_manager_is_refused_with_line(db: Database, now: datetime) -> None:
    text = "employee_id,name,manager_id\nE1,甲,\nE2,乙,E9\n"
    with pytest.raises(errors.InvalidInput) as exc:
        async with db.uow() as s:
            await import_employees(s, rows=parse_directory_csv(text), now=now)
    assert exc.value.params == {"line": 3, "field": "manager_id",
                                "message": "manager_id: unknown employee 'E9'"}
    assert await _count(db) == (0, 0)


async def test_manager_may_already_be_in_the_database(db: Database, now: datetime) -> None:
    async with db.uow() as s:
        await add_employee(s, "M1", "经理")
    async with db.uow() as s:
        report = await import_employees(
            s, rows=parse_directory_csv("employee_id,name,manager_id\nE1,甲,M1\n"), now=now)
    assert report.created == ["E1"]


async def test_platform_id_clash_with_database_is_refused(db: Database, now: datetime) -> None:
    async with db.uow() as s:
        await add_employee(s, "X1", "旧人", wecom="zhangsan", active=False)
    text = "employee_id,name,wecom_userid\nE1,甲,lisi\nE2,张三,zhangsan\n"
    with pytest.raises(errors.InvalidInput) as exc:
        async with db.uow() as s:
            await import_employees(s, rows=parse_directory_csv(text), now=now)
    assert exc.value.params == {
        "line": 3, "field": "wecom_userid",
        "message": "wecom_userid: 'zhangsan' already belongs to 旧人 (X1)"}
    assert await _count(db) == (1, 0)


async def test_two_employees_may_swap_platform_ids(db: Database, now: datetime) -> None:
    async with db.uow() as s:
        await add_employee(s, "E1", "甲", wecom="a")
        await add_employee(s, "E2", "乙", wecom="b")
    async with db.uow() as s:
        report = await import_employees(
            s, rows=parse_directory_csv("employee_id,name,wecom_userid\nE1,甲,b\nE2,乙,a\n"), now=now)
    assert report.updated == ["E1", "E2"]
    async with db.uow() as s:
        ids = {e: w for e, w in await s.execute(select(Employee.employee_id, Employee.wecom_userid))}
    assert ids == {"E1": "b", "E2": "a"}


def test_masking() -> None:
    assert mask_mobile("13812341234") == "138****1234"
    assert mask_mobile(None) == "" and mask_mobile("12345") == "*****"
    assert mask_email("zhangsan@corp.com") == "z***@corp.com"
    assert mask_email("") == ""
