"""The daily directory sync: scheduled at 02:00 local when JIFEN_DIRECTORY_SYNC names a
platform, absent when it is off, and the job itself run against a fake DingTalk."""

from __future__ import annotations

from datetime import date, datetime

from aiohttp import web
from sqlalchemy import select

from bot.directory.wiring import directory_events, directory_jobs
from bot.scheduler import Scheduler
from config.settings import Settings
from core.db import Database
from core.models import Employee, utcnow
from core.policy import Policy
from tests.fakes.contacts import FakeDingTalkOapi, Org, Person


def settings(sync: str, oapi_base: str = "http://127.0.0.1:9") -> Settings:
    return Settings(dingtalk_client_id="k", dingtalk_client_secret="s",  # type: ignore[arg-type]
                    dingtalk_oapi_base=oapi_base, directory_sync=sync,
                    _env_file=None)  # type: ignore[call-arg]


async def test_daily_job_at_two_in_the_morning(db: Database, policy: Policy) -> None:
    assert directory_jobs(settings("off"), db, policy) == {}
    assert directory_events(web.Application(), settings("off"), db, policy) is None
    sched = Scheduler(db, policy, extra=directory_jobs(settings("dingtalk"), db, policy))
    sched.start()
    try:
        nxt: datetime = sched.scheduler.get_job("directory-sync").next_run_time
        assert (nxt.hour, nxt.minute) == (2, 0) and str(nxt.tzinfo) == "Asia/Shanghai"
    finally:
        await sched.stop()


async def test_the_job_syncs_from_the_platform(db: Database, policy: Policy) -> None:
    org = Org()
    org.dept(2, "研发部")
    org.people.update({"u1": Person("张三", 2, hired=date(2020, 5, 6)),
                       "u2": Person("李四", 2, leader="u1")})
    async with FakeDingTalkOapi(org=org, app_key="k", app_secret="s") as oapi:
        job = directory_jobs(settings("dingtalk", oapi.base_url), db, policy)["directory-sync"][1]
        summary = await job(utcnow())
    assert summary == "synced from dingtalk: 2 created, 0 updated, 0 reactivated, 0 deactivated"
    async with db.uow() as s:
        li = await s.scalar(select(Employee).where(Employee.dingtalk_userid == "u2"))
        assert li is not None and li.manager_id == "dt-u1" and li.department == "研发部"
