"""Every ``jifen`` command through the real console script (SPEC section 6), on SQLite and, with
JIFEN_TEST_POSTGRES_URL set, PostgreSQL.

Each subprocess costs about a second, so a test shares its setup across several commands and runs
independent refusals side by side. Every run is checked for a traceback on stderr; every refusal
for exit code 1 and a single ``jifen: …`` line.
"""

from __future__ import annotations

import asyncio
import os
import re
import shutil
import sys
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from subprocess import CompletedProcess
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select, update
from sqlalchemy.sql import Executable

from core.db import Database
from core.models import (
    Account,
    CatalogItem,
    Employee,
    Entry,
    LedgerTransaction,
    Lot,
    OutboxMessage,
)
from tests.cli_helpers import jifen
from tests.conftest import _reset_postgres

LOCAL = ZoneInfo("Asia/Shanghai")  # config/policy.yaml and the JIFEN_TIMEZONE default


@dataclass
class Cli:
    """The console script bound to one database and working directory."""

    url: str
    cwd: Path

    @property
    def sqlite(self) -> bool:
        return self.url.startswith("sqlite")

    def run(self, *args: str, env: dict[str, str] | None = None) -> CompletedProcess[str]:
        res = jifen(*args, db_url=self.url, cwd=self.cwd, env=env)
        assert "Traceback" not in res.stderr, res.stderr
        assert "Traceback" not in res.stdout, res.stdout
        return res

    def ok(self, *args: str) -> str:
        res = self.run(*args)
        assert res.returncode == 0, (args, res.stdout, res.stderr)
        return res.stdout

    def refused(self, *args: str) -> str:
        """A user error: exit code 1 and exactly one line on stderr."""
        return _one_line_error(args, self.run(*args))

    def refusals(self, *calls: Sequence[str]) -> list[str]:
        """Several refusals in a row (writers would only queue on SQLite's lock if run at once)."""
        return [self.refused(*args) for args in calls]

    def at_once(self, *calls: tuple[Sequence[str], dict[str, str]]) -> list[CompletedProcess[str]]:
        """Commands that read at most, side by side (each subprocess is mostly start-up CPU)."""
        with ThreadPoolExecutor(max_workers=4) as pool:
            return list(pool.map(lambda call: self.run(*call[0], env=call[1]), calls))

    def write(self, name: str, text: str, *, encoding: str = "utf-8") -> str:
        path = self.cwd / name
        path.write_text(text, encoding=encoding)
        return str(path)

    def query(self, stmt: Executable) -> list[Any]:
        return _sql(self.url, stmt)

    def scalar(self, stmt: Executable) -> Any:
        rows = self.query(stmt)
        return rows[0][0] if rows else None

    def balance(self, employee_id: str) -> int:
        return int(self.scalar(select(Account.balance).where(Account.code == f"emp:{employee_id}")))


def _one_line_error(args: Sequence[str], res: CompletedProcess[str]) -> str:
    assert res.returncode == 1, (args, res.stdout, res.stderr)
    assert res.stderr.startswith("jifen: "), (args, res.stderr)
    assert res.stderr.count("\n") == 1 and res.stderr.endswith("\n"), (args, res.stderr)
    return res.stderr


def _sql(url: str, stmt: Executable) -> list[Any]:
    async def go() -> list[Any]:
        db = Database(url)
        try:
            async with db.engine.begin() as conn:
                result = await conn.execute(stmt)
                return list(result.all()) if result.returns_rows else []
        finally:
            await db.dispose()

    return asyncio.run(go())


@pytest.fixture(autouse=True)
def _this_pythons_console_script(monkeypatch: pytest.MonkeyPatch) -> None:
    """Run the ``jifen`` installed for the interpreter running the tests, ahead of any shim on
    PATH (a pyenv shim costs a bash start-up per call and may pick another interpreter)."""
    bindir = Path(sys.executable).parent
    if shutil.which("jifen", path=str(bindir)):
        monkeypatch.setenv("PATH", f"{bindir}{os.pathsep}{os.environ.get('PATH', '')}")


def _reset(url: str) -> None:
    async def go() -> None:
        db = Database(url)
        try:
            await _reset_postgres(db)
        finally:
            await db.dispose()

    asyncio.run(go())


@pytest.fixture
def cli(db_url: str, tmp_path: Path) -> Iterator[Cli]:
    """One PostgreSQL database serves the whole run: each test starts it empty and leaves it
    empty (a tampered ledger must not fail a later test's ``ledger verify``)."""
    postgres = not db_url.startswith("sqlite")
    if postgres:
        _reset(db_url)
    yield Cli(db_url, tmp_path)
    if postgres:
        _reset(db_url)


def _employees(cli: Cli, csv_text: str) -> None:
    out = cli.ok("employees", "import", cli.write("directory.csv", csv_text))
    assert out.startswith("created "), out


def _local_month(now: datetime) -> str:
    return now.astimezone(LOCAL).strftime("%Y-%m")


# --- demo and the four jobs --------------------------------------------------------------------


def test_demo_once_then_every_job_on_its_history(cli: Cli) -> None:
    out = cli.ok("demo")
    loaded = datetime.now(UTC)
    assert out.startswith("demo loaded: 10 employees"), out
    assert cli.scalar(select(func.count()).select_from(Employee)) == 10
    assert cli.scalar(select(func.count()).select_from(CatalogItem)) == 7
    assert "ledger OK" in cli.ok("ledger", "verify")
    assert cli.balance("E001") == 500  # welcome points; E001 gave and spent nothing

    assert "already has employees" in cli.refused("demo")
    assert cli.scalar(select(func.count()).select_from(Employee)) == 10
    assert cli.balance("E001") == 500  # the refused second run posted nothing

    # The demo's 60-point award (E004 → E006) waits for 赵磊 since a day before loading:
    # one day later it is due its reminder, three days later its escalation, each only once.
    def approvals(at: datetime) -> str:
        return cli.ok("jobs", "run", "approval-reminders", "--now", at.isoformat()).splitlines()[0]

    assert approvals(loaded + timedelta(days=1)) == "reminded 1 approval steps, escalated 0"
    assert approvals(loaded + timedelta(days=3)) == "reminded 0 approval steps, escalated 1"

    # Expiry reminders: ten days before the first lots expire, everyone holding points is told
    # once; a second run the same day queues nothing.
    first_expiry = cli.scalar(select(func.min(Lot.expires_at)).where(Lot.remaining > 0))
    remind_at = (first_expiry - timedelta(days=10)).isoformat()
    holders = cli.scalar(select(func.count()).select_from(Account).where(
        Account.kind == "employee", Account.balance > 0))
    assert holders == 10
    out = cli.ok("jobs", "run", "expiry-reminders", "--now", remind_at)
    assert out.startswith(f"queued {holders} expiry reminders"), out
    out = cli.ok("jobs", "run", "expiry-reminders", "--now", remind_at)
    assert out.startswith("queued 0 expiry reminders"), out
    listing = cli.ok("outbox").splitlines()
    assert sum("expiry_reminder" in line for line in listing) == holders
    assert sum("approval_reminder" in line for line in listing) >= 1
    assert sum("approval_escalated" in line for line in listing) >= 1
    assert listing[-1].startswith("pending "), listing[-1]

    # Expiry: in 2030 every lot is past its date; all points go, the ledger still balances.
    held = cli.scalar(select(func.sum(Account.balance)).where(Account.kind == "employee"))
    assert held > 0
    out = cli.ok("jobs", "run", "expire", "--now", "2030-01-01T00:00:00")
    assert re.fullmatch(rf"expired {held} points in \d+ lots", out.splitlines()[0]), out
    assert cli.scalar(select(func.sum(Account.balance)).where(Account.kind == "employee")) == 0
    assert cli.scalar(select(func.sum(Lot.remaining))) == 0
    assert "ledger OK" in cli.ok("ledger", "verify")


def test_auto_grants_once_per_birthday(cli: Cli) -> None:
    _employees(cli, "employee_id,name,birthday\nB1,寿星,07-04\nB2,路人,1990-07-05\n")
    # 23:30 local on the birthday (a naive --now is local time; read as UTC it would be 5 July)
    morning = cli.ok("jobs", "run", "auto-grants", "--now", "2031-07-04T23:30:00")
    assert morning.splitlines()[0] == "granted 50 points in 1 automatic grants"
    assert "count as given and are not given again on the day" in morning  # 2031 is the future
    # 18:00 the same local day, given in UTC: already celebrated
    evening = cli.ok("jobs", "run", "auto-grants", "--now", "2031-07-04T10:00:00+00:00")
    assert evening.splitlines()[0] == "granted 0 points in 0 automatic grants"
    assert (cli.balance("B1"), cli.balance("B2")) == (50, 0)
    assert cli.scalar(select(func.count()).select_from(LedgerTransaction)) == 1


# --- employees import --------------------------------------------------------------------------

DIRECTORY = (
    "employee_id,name,department,manager_id,roles,birthday,hire_date,shoe_size\r\n"
    "M1,经理甲,研发部,,hr|admin,05-12,2020-01-01,42\r\n"
    "A1,员工乙,研发部,M1,,1990-07-04,2021-03-01,40\r\n"
    "A2,员工丙,市场部,M1,,,,38\r\n"
)


def _people(cli: Cli, *ids: str) -> list[Any]:
    return cli.query(select(Employee.name, Employee.active).where(Employee.employee_id.in_(ids))
                     .order_by(Employee.employee_id))


def test_employees_import_dry_run_update_and_deactivate(cli: Cli) -> None:
    first = cli.write("directory.csv", DIRECTORY, encoding="utf-8-sig")  # with a BOM
    assert (cli.cwd / "directory.csv").read_bytes().startswith(b"\xef\xbb\xbf")

    out = cli.ok("employees", "import", first, "--dry-run")
    assert out.splitlines() == ["dry run: would have created 3, updated 0, unchanged 0, deactivated 0",
                                "  add        M1 经理甲", "  add        A1 员工乙", "  add        A2 员工丙"]
    assert cli.scalar(select(func.count()).select_from(Employee)) == 0
    assert cli.scalar(select(func.count()).select_from(Account).where(Account.kind == "employee")) == 0

    out = cli.ok("employees", "import", first)  # the dry run left everything to create
    assert out.strip() == "created 3, updated 0, unchanged 0, deactivated 0"
    rows = {r.employee_id: r for r in cli.query(select(
        Employee.employee_id, Employee.manager_id, Employee.roles, Employee.birthday))}
    assert set(rows) == {"M1", "A1", "A2"}
    assert rows["M1"].roles == "hr|admin" and rows["A1"].manager_id == "M1"
    assert rows["A1"].birthday == "07-04"
    assert cli.balance("A2") == 0  # every new employee has a ledger account

    # A1 renamed, A2 gone from the file, M1 as before
    second = cli.write("directory2.csv", DIRECTORY.replace("员工乙", "员工乙乙").rsplit("A2", 1)[0])
    out = cli.ok("employees", "import", second, "--deactivate-missing", "--dry-run")
    assert out.splitlines() == ["dry run: would have created 0, updated 1, unchanged 1, deactivated 1",
                                "  change     A1 员工乙乙: name", "  deactivate A2 员工丙"]
    assert _people(cli, "A1", "A2") == [("员工乙", True), ("员工丙", True)]

    out = cli.ok("employees", "import", second, "--deactivate-missing")
    assert out.strip() == "created 0, updated 1, unchanged 1, deactivated 1"
    assert _people(cli, "A1", "A2") == [("员工乙乙", True), ("员工丙", False)]

    # A bad reference is found against the database, after the good rows were read: still
    # nothing of the file is imported.
    bad_manager = cli.write("bad_manager.csv", "employee_id,name,manager_id\nN3,新人三,M1\n"
                                               "N4,新人四,NOBODY\n")
    manager_err, inactive_err = cli.refusals(
        ("employees", "import", bad_manager),
        ("grant", "A2", "10", "--reason", "给离职的人"),
    )
    assert "line 3:" in manager_err and "NOBODY" in manager_err
    assert "is no longer active" in inactive_err
    assert cli.scalar(select(func.count()).select_from(Employee)) == 3
    assert cli.balance("A2") == 0


# --- catalog import ----------------------------------------------------------------------------

CATALOG_YAML = """\
items:
  - sku: T-MUG
    name: 杯子
    points: 80
    stock: 5
  - sku: T-CARD
    name: 礼品卡
    points: 100
    kind: code
    codes: [C-1, C-2]
"""

CATALOG_CSV = """\
sku,name,points,kind,stock,codes,requires_approval
T-CARD,礼品卡,120,code,,C-2|C-3,
T-LEAVE,调休,300,leave,,,是
"""


def test_catalog_import_yaml_then_csv_with_codes(cli: Cli) -> None:
    out = cli.ok("catalog", "import", cli.write("items.yaml", CATALOG_YAML))
    assert out.strip() == "created 2, updated 0, codes added 2"
    out = cli.ok("catalog", "import", cli.write("items.csv", CATALOG_CSV))
    assert out.strip() == "created 1, updated 1, codes added 1"  # C-2 was there already
    items = {r.sku: r for r in cli.query(select(
        CatalogItem.sku, CatalogItem.points, CatalogItem.stock, CatalogItem.kind,
        CatalogItem.requires_approval))}
    assert set(items) == {"T-MUG", "T-CARD", "T-LEAVE"}
    assert (items["T-MUG"].points, items["T-MUG"].stock) == (80, 5)
    assert (items["T-CARD"].points, items["T-CARD"].stock) == (120, 3)  # three unassigned codes
    assert items["T-LEAVE"].requires_approval is True and items["T-LEAVE"].kind == "leave"


# --- grants ------------------------------------------------------------------------------------


def test_grant_idempotent_expiry_file_and_refusals(cli: Cli) -> None:
    _employees(cli, "employee_id,name\nG1,甲\nG2,乙\n")

    out = cli.ok("grant", "G1", "100", "--reason", "项目奖励", "--key", "K1")
    assert out.strip() == "granted 100 to G1; balance 100"
    out = cli.ok("grant", "G1", "100", "--reason", "项目奖励", "--key", "K1")
    assert out.strip() == "already granted with key 'K1': nothing changed (balance 100)"
    assert cli.balance("G1") == 100
    assert cli.scalar(select(func.count()).select_from(LedgerTransaction)) == 1
    assert cli.scalar(select(func.count()).select_from(OutboxMessage)) == 1  # one push only

    year = datetime.now(LOCAL).year + 2
    out = cli.ok("grant", "G2", "50", "--reason", "限时", "--key", "K2",
                 "--expires-at", f"{year}-01-31")
    assert out.strip() == "granted 50 to G2; balance 50"
    expires = cli.scalar(select(Lot.expires_at).join(Account, Account.id == Lot.account_id)
                         .where(Account.code == "emp:G2"))
    # usable through 31 January, local time: it ends at the local midnight that follows
    assert expires == datetime(year, 2, 1, tzinfo=LOCAL).astimezone(UTC)

    grants = cli.write("grants.csv", "employee_id,points,reason,key\nG1,10,季度奖,Q1-G1\n"
                                     "G2,20,季度奖,\n")
    assert cli.ok("grant", "--file", grants).strip() == "granted 30 points in 2 grants (0 already done)"
    assert cli.ok("grant", "--file", grants).strip() == "granted 0 points in 0 grants (2 already done)"
    assert (cli.balance("G1"), cli.balance("G2")) == (110, 70)

    bad_file = cli.write("bad_grants.csv", "employee_id,points,reason\nG1,5,好\nNOBODY,5,好\n")
    unknown, negative, past, bad_row = cli.refusals(
        ("grant", "NOBODY", "5", "--reason", "x"),
        ("grant", "G1", "-5", "--reason", "x"),
        ("grant", "G1", "5", "--reason", "x", "--expires-at", "2020-01-01"),
        ("grant", "--file", bad_file),
    )
    assert unknown == "jifen: No colleague found: NOBODY\n"
    assert "positive whole number" in negative
    assert "expiry must be in the future" in past
    assert "line 3:" in bad_row and "NOBODY" in bad_row
    assert (cli.balance("G1"), cli.balance("G2")) == (110, 70)  # none of them granted anything
    assert cli.scalar(select(func.count()).select_from(LedgerTransaction)) == 4
    assert "ledger OK" in cli.ok("ledger", "verify")


# --- report, outbox and ledger verify ----------------------------------------------------------


def test_report_outbox_retry_and_verify_catches_tampering(cli: Cli) -> None:
    _employees(cli, "employee_id,name,department\nR1,研发一,研发部\nR2,市场一,市场部\n")
    grants = cli.write("grants.csv", "employee_id,points,reason\nR1,100,奖励\nR2,40,奖励\n")
    cli.ok("grant", "--file", grants)

    month = _local_month(datetime.now(UTC))
    out = cli.ok("report", "--month", month, "--csv", "out.csv")  # relative to the cwd
    assert f"report {month}" in out
    assert re.search(r"Points\n  issued\s+140 .*\n  redeemed\s+0 .*\n  expired\s+0\n", out), out
    assert "\nDepartments\n  市场部: issued 40, redeemed 0\n  研发部: issued 100, redeemed 0\n" in out
    assert "written out.csv" in out
    written = (cli.cwd / "out.csv").read_text(encoding="utf-8-sig")
    assert f"month,{month}" in written and "issued,140" in written
    assert "研发部,100,0" in written
    assert re.search(r"issued\s+0 .*\n  redeemed\s+0 ", cli.ok("report", "--month", "2000-01"))

    listing = cli.ok("outbox").splitlines()
    assert len(listing) == 3, listing
    assert re.match(r"#\d+ pending\s+points_granted\s+employee:R2\s+attempts=0$", listing[0])
    assert listing[2] == "pending 2"

    first = cli.scalar(select(func.min(OutboxMessage.id)))
    cli.query(update(OutboxMessage).where(OutboxMessage.id == first)
              .values(status="failed", attempts=5, last_error="boom: 503"))
    failed = cli.ok("outbox", "--failed").splitlines()
    assert len(failed) == 2 and failed[0].startswith(f"#{first} failed"), failed
    assert "employee:R1" in failed[0] and failed[0].endswith("error: boom: 503")
    assert failed[1] == "failed 1, pending 1"

    retried = cli.ok("outbox", "--retry").splitlines()
    assert retried[0] == "re-queued 1 failed message(s)"
    assert retried[-1] == "pending 2"
    assert cli.query(select(OutboxMessage.status, OutboxMessage.attempts, OutboxMessage.last_error)
                     .where(OutboxMessage.id == first)) == [("pending", 0, None)]

    assert "ledger OK" in cli.ok("ledger", "verify")
    if cli.sqlite:  # PostgreSQL's append-only triggers refuse updates to ledger rows
        entry_id = cli.scalar(select(func.max(Entry.id)).where(Entry.lot_id.is_not(None)))
        cli.query(update(Entry).where(Entry.id == entry_id).values(amount=Entry.amount + 1))
    else:
        cli.query(update(Lot).values(remaining=Lot.remaining - 1))
    res = cli.run("ledger", "verify")
    assert res.returncode == 2, (res.stdout, res.stderr)
    lines = res.stdout.splitlines()
    assert len(lines) > 1 and all(line.startswith("VIOLATION ") for line in lines[:-1]), lines
    assert re.fullmatch(rf"{len(lines) - 1} violation\(s\)", lines[-1])
    assert "emp:R2" in res.stdout


# --- refusals that need no data, help, configuration -------------------------------------------

BAD_YAML = """\
items:
  - sku: T-NEW
    name: 新品
    points: 10
  - sku: T-BAD
    name: 坏的
    points: -5
"""


def test_bad_input_is_one_line_and_changes_nothing(sqlite_template: Path, tmp_path: Path) -> None:
    db = tmp_path / "jifen.db"
    shutil.copy(sqlite_template, db)
    cli = Cli(f"sqlite+aiosqlite:///{db}", tmp_path)
    none: dict[str, str] = {}
    cases: list[tuple[Sequence[str], dict[str, str], str]] = [
        # (arguments, environment, what the one line must name)
        (("employees", "import", "missing.csv"), none, "missing.csv: no such file"),
        (("employees", "import", cli.write("gbk.csv", "employee_id,name\nN1,新人\n",
                                           encoding="gbk")), none, "not UTF-8"),
        (("employees", "import", cli.write(
            "bad_date.csv", "employee_id,name,hire_date\nN1,新人,2024-01-01\nN2,新人二,2024-13-45\n")),
         none, "line 3:"),
        (("catalog", "import", cli.write("bad.yaml", BAD_YAML)), none, "line 7: points"),
        (("catalog", "import", cli.write("bad.csv", "sku,name,points\nT-N,新,10\nT-X,坏,lots\n")),
         none, "line 3: points"),
        (("catalog", "import", cli.write("items.json", '{"items": []}')), none,
         "expected a .yaml, .yml or .csv file"),
        (("grant", "G1", "5"), none, "--reason is required"),
        (("grant", "G1"), none, "usage"),
        (("grant", "G1", "five", "--reason", "x"), none, "'five'"),
        (("grant", "G1", "1000000000", "--reason", "x"), none, "at most 999999999"),
        (("grant", "G1", "5", "--reason", "x", "--expires-at", "31/01/2027"), none, "31/01/2027"),
        (("grant", "G1", "5", "--reason", "x", "--file", "g.csv"), none, "either --file"),
        (("grant", "--file", "absent.csv"), none, "absent.csv: no such file"),
        (("grant", "--file", cli.write("g.csv", "employee_id,points,reason\nG1,-3,x\n")), none,
         "line 2:"),
        (("jobs", "run", "auto-grants", "--now", "yesterday"), none, "--now 'yesterday'"),
        (("jobs", "run", "payroll"), none, "payroll"),
        (("report", "--month", "2026-13"), none, "'2026-13' is not a month"),
        (("report", "--csv", "no/such/dir.csv"), none, "no/such/dir.csv: cannot write"),
        (("outbox", "--limit", "0"), none, "--limit"),
        (("report",), {"JIFEN_DATABASE_URL": "not a url"}, "configuration"),
        (("report",), {"JIFEN_TIMEZONE": "Mars/Olympus"}, "Mars/Olympus"),
        (("report",), {"JIFEN_POLICY_FILE": "missing-policy.yaml"}, "missing-policy.yaml"),
    ]
    results = cli.at_once(*[(args, env) for args, env, _ in cases])
    for (args, _env, expected), res in zip(cases, results, strict=True):
        assert expected in _one_line_error(args, res), (args, res.stderr)
    assert cli.ok("outbox").strip() == "outbox is empty"
    for model in (Employee, CatalogItem, LedgerTransaction):
        assert cli.scalar(select(func.count()).select_from(model)) == 0


COMMANDS = (
    (), ("run",), ("db", "upgrade"), ("demo",), ("employees", "import"), ("catalog", "import"),
    ("grant",), ("jobs", "run"), ("ledger", "verify"), ("report",), ("outbox",), ("chat",),
)


def test_every_command_has_help(tmp_path: Path) -> None:
    cli = Cli(f"sqlite+aiosqlite:///{tmp_path}/untouched.db", tmp_path)
    results = cli.at_once(*[((*cmd, "--help"), {}) for cmd in COMMANDS])
    for cmd, res in zip(COMMANDS, results, strict=True):
        assert res.returncode == 0, (cmd, res.stderr)
        assert res.stderr == ""
        assert res.stdout.startswith(f"usage: {' '.join(('jifen', *cmd))} [-h]"), (cmd, res.stdout)
    assert not (tmp_path / "untouched.db").exists()  # --help opens no database
