# ruff: noqa: F811 - the cli fixture is imported from test_cli and taken by name
"""Operator and HR commands through the real console script: the order desk, safer grants and
imports, job dry runs, the report's sections (README "Operator CLI")."""

from __future__ import annotations

import csv
import io
import os
import re
import shutil
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

from sqlalchemy import func, select

from core.models import Employee, Lot, Order, OutboxMessage
from tests.bot.test_cli import Cli, _this_pythons_console_script, cli  # noqa: F401 - fixtures


def test_orders_lists_the_desk_with_who_what_when(cli: Cli) -> None:
    cli.ok("demo")  # 刘洋 (E006, 研发部) ordered a 定制马克杯; it waits to be handed over
    order_no = cli.scalar(select(Order.order_no).where(Order.employee_id == "E006"))
    lines = cli.ok("orders").splitlines()
    assert lines[-1] == "1 order(s) placed", lines
    assert lines[0].startswith(f"{order_no}  20"), lines[0]
    assert "定制马克杯 ×1  80 points" in lines[0]
    assert "刘洋 (E006, 研发部)  138****0006 / l***@example.com" in lines[0]

    assert cli.ok("orders", "--state", "fulfilled").strip() == "no orders fulfilled"
    out = cli.ok("orders", "--state", "placed", "--csv", "open.csv")
    assert out.splitlines()[-1] == "written open.csv"
    rows = (cli.cwd / "open.csv").read_text(encoding="utf-8-sig").splitlines()
    assert rows[0].startswith("order_no,created_at,status,sku,item,qty,points,employee_id,name")
    assert len(rows) == 2 and rows[1].startswith(f"{order_no},") and ",刘洋,研发部," in rows[1]

    bad_state = cli.refused("orders", "--state", "lost")
    assert "lost" in bad_state
    assert cli.scalar(select(func.count()).select_from(Order)) == 1


def test_a_same_day_repeat_grant_needs_again(cli: Cli) -> None:
    cli.ok("employees", "import", cli.write("d.csv", "employee_id,name\nE011,新同事\nE012,另一位\n"))
    first = cli.ok("grant", "E011", "100", "--reason", "入职礼包")
    assert first.strip() == "granted 100 to E011; balance 100"

    repeat = cli.refused("grant", "E011", "100", "--reason", "入职礼包")
    assert "E011 was already granted 100 points for '入职礼包' today at " in repeat
    assert "nothing changed" in repeat and "--again" in repeat
    assert cli.balance("E011") == 100

    # a different amount, reason or employee is not a repeat
    assert cli.ok("grant", "E011", "50", "--reason", "入职礼包").startswith("granted 50")
    assert cli.ok("grant", "E011", "100", "--reason", "导师奖励").startswith("granted 100")
    assert cli.ok("grant", "E012", "100", "--reason", "入职礼包").startswith("granted 100")
    assert cli.balance("E011") == 250

    again = cli.ok("grant", "E011", "100", "--reason", "入职礼包", "--again")
    assert again.strip() == "granted 100 to E011; balance 350"
    assert "--again applies to grants without --key" in cli.refused(
        "grant", "E011", "100", "--reason", "入职礼包", "--key", "K", "--again")

    # with --key a grant stays idempotent: the repeat is not refused, it changes nothing
    assert cli.ok("grant", "E012", "30", "--reason", "项目", "--key", "P1").startswith("granted 30")
    out = cli.ok("grant", "E012", "30", "--reason", "项目", "--key", "P1")
    assert out.strip() == "already granted with key 'P1': nothing changed (balance 130)"
    assert (cli.balance("E011"), cli.balance("E012")) == (350, 130)
    assert "ledger OK" in cli.ok("ledger", "verify")


def test_jobs_dry_run_changes_nothing_and_a_future_run_says_it_uses_up(cli: Cli) -> None:
    cli.ok("demo")
    first_expiry = cli.scalar(select(func.min(Lot.expires_at)).where(Lot.remaining > 0))
    remind_at = (first_expiry - timedelta(days=10)).isoformat()
    before = (_outbox(cli), cli.balance("E001"), cli.scalar(select(func.sum(Lot.remaining))))

    dry = cli.ok("jobs", "run", "expiry-reminders", "--now", remind_at, "--dry-run").strip()
    assert dry.startswith("dry run, nothing changed; a real run would have: queued 10 expiry "
                          "reminders"), dry
    dry = cli.ok("jobs", "run", "expire", "--now", "2030-01-01T00:00:00", "--dry-run").strip()
    assert dry.startswith("dry run, nothing changed; a real run would have: expired "), dry
    assert "expired 0 points" not in dry
    assert (_outbox(cli), cli.balance("E001"), cli.scalar(select(func.sum(Lot.remaining)))) == before

    real = cli.ok("jobs", "run", "expiry-reminders", "--now", remind_at).splitlines()
    assert real[0].startswith("queued 10 expiry reminders"), real
    assert real[1].startswith("note: --now is in the future, so those reminders count as sent"), real
    assert "--dry-run" in real[1]
    assert _outbox(cli) == before[0] + 10
    assert cli.ok("jobs", "run", "expiry-reminders", "--now", remind_at, "--dry-run").startswith(
        "dry run, nothing changed; a real run would have: queued 0 expiry reminders")
    assert "ledger OK" in cli.ok("ledger", "verify")


def _outbox(cli: Cli) -> int:
    return int(cli.scalar(select(func.count()).select_from(OutboxMessage)))


def test_employees_import_names_every_bad_row_in_one_run(cli: Cli) -> None:
    cli.ok("employees", "import", cli.write("d.csv", "employee_id,name,wecom_userid\nM1,经理,m1\n"))
    bad = cli.write("bad.csv", "employee_id,name,manager_id,birthday,roles,wecom_userid\n"
                               "N1,新人一,M1,,,\n"          # good
                               "N2,,M1,,,\n"                # no name
                               "N3,新人三,M1,02-30,,\n"     # no such day
                               "N4,新人四,NOBODY,,,\n"      # unknown manager (found in the database)
                               "N5,新人五,M1,,boss,\n"      # unknown role
                               "N1,重复,M1,,,\n"            # employee id twice
                               "N6,新人六,M1,,,m1\n")       # platform id held by M1
    res = cli.run("employees", "import", bad)
    assert res.returncode == 1, (res.stdout, res.stderr)
    lines = res.stderr.splitlines()
    assert lines[0] == f"jifen: {bad}: 6 rows have problems, nothing was imported:", lines
    assert [line.split(":")[0] for line in lines[1:]] == [f"  line {n}" for n in (3, 4, 5, 6, 7, 8)]
    assert "name: is required" in lines[1] and "birthday" in lines[2] and "NOBODY" in lines[3]
    assert "boss" in lines[4] and "already used on line 2" in lines[5]
    assert "already belongs to 经理 (M1)" in lines[6]
    assert cli.scalar(select(func.count()).select_from(Employee)) == 1  # nothing of the file

    dry = cli.ok("employees", "import", cli.write("ok.csv", "employee_id,name,department\n"
                                                  "M1,经理,总部\nN1,新人一,研发部\n"),
                 "--dry-run", "--deactivate-missing").splitlines()
    assert dry == ["dry run: would have created 1, updated 1, unchanged 0, deactivated 0",
                   "  add        N1 新人一", "  change     M1 经理: department"]


def test_report_sections_agree_with_the_csv(cli: Cli) -> None:
    cli.ok("demo")
    order_no = cli.scalar(select(Order.order_no).where(Order.employee_id == "E006"))
    _chat(cli, "E002", f"发货 {order_no} 已放前台")  # 林芳 (HR) hands the mug over
    cli.ok("grant", "E004", "100", "--reason", "季度之星")

    out = cli.ok("report", "--csv", "month.csv")
    sections = [line for line in out.splitlines() if line and not line.startswith(" ")]
    assert sections[1:] == ["Points", "Awards", "Coming up (now)",
                            "Top items (handed over this month)", "Departments", "written month.csv"]
    csv_rows = list(csv.reader(io.StringIO(
        (cli.cwd / "month.csv").read_text(encoding="utf-8-sig"))))
    metrics = {row[0]: row[1] for row in csv_rows if len(row) == 2}
    for name in ("issued", "redeemed", "expired", "deducted", "refunded"):
        assert re.search(rf"\n  {name}\s+{metrics[name]}\b", out), (name, metrics[name], out)
    assert f"  {metrics['awards_count']} awards, {metrics['awards_points']} points" in out
    assert metrics["redeemed"] == "80"  # the mug, handed over this month
    assert "  CUP01 定制马克杯: 1 × = 80 points" in out and ["CUP01", "定制马克杯", "1", "80"] in csv_rows
    assert f"open orders (waiting for approval or hand-over): {metrics['open_orders']} " in out

    # chat 报表 shows the same sections and figures
    chat = _chat(cli, "E002", "报表")
    for section in ("【积分】", "【点赞】", "【待处理（当前）】", "【兑换最多（本月已发货）】",
                    "【各部门 发放 / 兑换】"):
        assert section in chat, (section, chat)
    m = metrics
    assert (f"发放 {m['issued']} · 兑换 {m['redeemed']} · 过期 {m['expired']} · "
            f"扣除 {m['deducted']} · 退回 {m['refunded']}") in chat, chat
    assert f"点赞 {m['awards_count']} 次，共 {m['awards_points']} 分" in chat
    assert f"待审批或待发货订单 {m['open_orders']} 个（{m['open_orders_points']} 分）" in chat
    assert "定制马克杯 ×1（80 分）" in chat


def _chat(cli: Cli, who: str, *lines: str) -> str:
    res = subprocess.run(
        [*_jifen_cmd(), "chat", "--as", who], input="".join(f"{line}\n" for line in lines),
        text=True, capture_output=True, env={**os.environ, "JIFEN_DATABASE_URL": cli.url},
        cwd=cli.cwd, timeout=120, check=False)
    assert res.returncode == 0 and "Traceback" not in res.stderr, res.stderr
    return res.stdout


def _jifen_cmd() -> list[str]:
    exe = shutil.which("jifen", path=str(Path(sys.executable).parent))
    return [exe] if exe else [sys.executable, "-m", "bot.cli"]
