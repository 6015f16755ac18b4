"""Directory, history, grants and deductions."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from bot.web.api.errors import ApiError
from bot.web.api.framework import Ctx, Reply, decode_cursor, encode_cursor
from bot.web.api.routes import TABLE
from bot.web.api.schemas import (
    AllowanceOut,
    DeductionIn,
    EmployeeDetailOut,
    EmployeeIn,
    EmployeeOut,
    EmployeePage,
    EmployeesQuery,
    GrantOut,
    GrantsIn,
    GrantsOut,
    HistoryOut,
    HistoryPage,
    ImportOut,
    ImportQuery,
    LotOut,
    Page,
    PreviewOut,
    PreviewRowOut,
)
from cards.texts import Locale, problem_text
from core.admin import queries
from core.directory.importer import _row, import_employees, parse_directory_csv
from core.directory.service import mask_email, mask_mobile
from core.hr import service as hr
from core.hr.preview_rows import preview_grants
from core.models import Employee

T = TABLE


def employee_out(emp: Employee) -> dict[str, Any]:
    return EmployeeOut(
        employee_id=emp.employee_id, name=emp.name, department=emp.department,
        manager_id=emp.manager_id, roles=[r for r in emp.roles.split("|") if r],
        wecom_userid=emp.wecom_userid, dingtalk_userid=emp.dingtalk_userid,
        hire_date=emp.hire_date, birthday=emp.birthday, locale=emp.locale,
        mobile=mask_mobile(emp.mobile), email=mask_email(emp.email), active=emp.active,
    ).model_dump(mode="json")


def page(items: list[dict[str, Any]], limit: int, *last: Any) -> dict[str, Any]:
    """A page; ``next_cursor`` only when the page is full (there may be more)."""
    return {"items": items, "next_cursor": encode_cursor(*last) if len(items) == limit else None}


@T.add("GET", "/employees", summary="The directory", query=EmployeesQuery, response=EmployeePage)
async def list_employees(ctx: Ctx[EmployeesQuery, Any], s: AsyncSession) -> Reply:
    q = ctx.query
    after = str(decode_cursor(q.cursor)[0]) if q.cursor else None
    rows = await queries.employees(s, q=q.q, department=q.department, active=q.active,
                                   after=after, limit=q.limit)
    return Reply(page([employee_out(e) for e in rows], q.limit,
                      rows[-1].employee_id if rows else None))


async def _detail(ctx: Ctx[Any, Any], s: AsyncSession, employee_id: str) -> dict[str, Any]:
    d = await queries.employee_detail(s, employee_id=employee_id, now=ctx.now, policy=ctx.policy)
    return EmployeeDetailOut(
        **employee_out(d.employee), balance=d.balance,
        allowance=AllowanceOut(limit=d.allowance_limit, used=d.allowance_used,
                               left=d.allowance_left),
        lots=[LotOut(**vars(lot)) for lot in d.lots]).model_dump(mode="json")


@T.add("GET", "/employees/{id}", summary="One employee with balance, allowance and lots",
       response=EmployeeDetailOut, errors=(404,))
async def get_employee(ctx: Ctx[Any, Any], s: AsyncSession) -> Reply:
    return Reply(await _detail(ctx, s, ctx.params["id"]))


def _cells(employee_id: str, body: EmployeeIn) -> tuple[dict[str, str], frozenset[str]]:
    """The body as the cells of a directory CSV row, so both go through the same checks."""
    given = body.model_fields_set | {"name"}
    cells = {"employee_id": employee_id}
    for name in given:
        value = getattr(body, name)
        if name == "roles":
            value = "|".join(value or [])
        cells[name] = "" if value is None else str(value)
    return cells, frozenset(given | {"employee_id"})


@T.add("PUT", "/employees/{id}", summary="Create or update one employee", body=EmployeeIn,
       response=EmployeeDetailOut, errors=(400, 404))
async def put_employee(ctx: Ctx[Any, EmployeeIn], s: AsyncSession) -> Reply:
    cells, columns = _cells(ctx.params["id"], ctx.body)
    row = _row(1, cells, columns)
    report = await import_employees(s, rows=[row], now=ctx.now, actor_id=ctx.actor,
                                    action="employee.upsert")
    return Reply(await _detail(ctx, s, row.employee_id), status=201 if report.created else 200)


@T.add("POST", "/employees/import", summary="Import a directory CSV (as jifen employees import)",
       query=ImportQuery, response=ImportOut, body_media="text/csv", errors=(400,))
async def import_csv(ctx: Ctx[ImportQuery, Any], s: AsyncSession) -> Reply:
    try:
        text = ctx.raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise ApiError(400, "bad_encoding", "the CSV body must be UTF-8") from None
    rows = parse_directory_csv(text)
    r = await import_employees(s, rows=rows, dry_run=ctx.query.dry_run,
                               deactivate_missing=ctx.query.deactivate_missing, now=ctx.now,
                               actor_id=ctx.actor)
    return Reply(ImportOut(dry_run=r.dry_run, created=r.created, updated=r.updated,
                           unchanged=r.unchanged, deactivated=r.deactivated).model_dump())


@T.add("GET", "/employees/{id}/history", summary="Ledger history, newest first", query=Page,
       response=HistoryPage, errors=(404,))
async def history(ctx: Ctx[Page, Any], s: AsyncSession) -> Reply:
    q = ctx.query
    before = None
    if q.cursor:
        at, tx_id = (decode_cursor(q.cursor) + [None])[:2]
        try:
            before = (_parse_time(str(at)), int(tx_id))
        except (TypeError, ValueError):
            raise ApiError(422, "invalid_cursor", "cursor is not one this API returned") from None
    rows = await queries.history(s, employee_id=ctx.params["id"], before=before, limit=q.limit)
    items = [HistoryOut(**vars(r)).model_dump(mode="json") for r in rows]
    last = (rows[-1].at.isoformat(), rows[-1].transaction_id) if rows else ()
    return Reply(page(items, q.limit, *last))


def _parse_time(text: str) -> datetime:
    value = datetime.fromisoformat(text)
    if value.tzinfo is None:
        raise ValueError("naive")
    return value


def _rows(ctx: Ctx[Any, GrantsIn]) -> list[hr.GrantRow]:
    """The grants as the rows of a grants file; ``line`` is the grant's position (from 1)."""
    base = ctx.idempotency_key or uuid.uuid4().hex
    return [hr.GrantRow(line=i, employee_id=g.employee_id, points=g.points, reason=g.reason,
                        key=g.key or f"api:{base}:{i}", expires_at=g.expires_at)
            for i, g in enumerate(ctx.body.grants, start=1)]


@T.add("POST", "/grants", summary="HR grants, all or nothing", body=GrantsIn, response=GrantsOut,
       errors=(400, 404, 409))
async def grants(ctx: Ctx[Any, GrantsIn], s: AsyncSession) -> Reply:
    done = await hr.grant_rows(s, actor_id=ctx.actor, rows=_rows(ctx), now=ctx.now,
                               policy=ctx.policy)
    items = [GrantOut(employee_id=r.employee_id, amount=r.amount, balance=r.balance,
                      transaction_id=r.transaction_id, duplicate=r.duplicate) for r in done]
    granted = sum(r.amount for r in done if not r.duplicate)
    return Reply(GrantsOut(items=items, granted=granted).model_dump(), status=201)


@T.add("POST", "/grants/preview", summary="What a grants request would do; changes nothing",
       body=GrantsIn, response=PreviewOut, errors=(400,))
async def grants_preview(ctx: Ctx[Any, GrantsIn], s: AsyncSession) -> Reply:
    rows = await preview_grants(s, actor_id=ctx.actor, rows=_rows(ctx), now=ctx.now)
    lang: Locale = "en" if ctx.lang == "en" else "zh"
    items = [PreviewRowOut(**(vars(r) | {"problems": [problem_text(lang, p) for p in r.problems]}))
             for r in rows]
    return Reply(PreviewOut(ok=not any(r.problems for r in rows), items=items).model_dump())


@T.add("POST", "/deductions", summary="Deduct points from an employee", body=DeductionIn,
       response=GrantOut, errors=(400, 404, 409))
async def deductions(ctx: Ctx[Any, DeductionIn], s: AsyncSession) -> Reply:
    b = ctx.body
    key = b.key or (f"api:{ctx.idempotency_key}" if ctx.idempotency_key else uuid.uuid4().hex)
    r = await hr.deduct(s, actor_id=ctx.actor, employee_id=b.employee_id, amount=b.points,
                        reason=b.reason, key=key, now=ctx.now, policy=ctx.policy)
    return Reply(GrantOut(employee_id=r.employee_id, amount=r.amount, balance=r.balance,
                          transaction_id=r.transaction_id, duplicate=r.duplicate).model_dump(),
                 status=201)

