"""CLI through the real console script."""

from __future__ import annotations

from pathlib import Path

from tests.cli_helpers import jifen


def test_db_upgrade_and_verify_on_fresh_database(db_url: str, tmp_path: Path) -> None:
    up = jifen("db", "upgrade", db_url=db_url, cwd=tmp_path)
    assert up.returncode == 0, up.stderr
    res = jifen("ledger", "verify", db_url=db_url, cwd=tmp_path)
    assert res.returncode == 0, res.stderr
    assert "ledger OK" in res.stdout


def test_bad_policy_file_is_one_line_with_field_and_line(tmp_path: Path) -> None:
    bad = tmp_path / "policy.yaml"
    bad.write_text("award:\n  approval_threshold: lots\n", encoding="utf-8")
    res = jifen("jobs", "run", "expire", db_url=f"sqlite+aiosqlite:///{tmp_path}/j.db",
                cwd=tmp_path, env={"JIFEN_POLICY_FILE": str(bad)})
    assert res.returncode == 1
    assert res.stderr.count("\n") == 1 and "Traceback" not in res.stderr
    assert "line 2" in res.stderr and "award.approval_threshold" in res.stderr


def test_unknown_command_exits_nonzero(tmp_path: Path) -> None:
    res = jifen("frobnicate", db_url=f"sqlite+aiosqlite:///{tmp_path}/j.db", cwd=tmp_path)
    assert res.returncode == 1
    assert res.stderr.count("\n") == 1 and res.stderr.startswith("jifen: ")


def test_a_core_refusal_is_a_sentence_not_a_code(tmp_path: Path) -> None:
    res = jifen("grant", "E999", "5", "--reason", "welcome",
                db_url=f"sqlite+aiosqlite:///{tmp_path}/j.db", cwd=tmp_path)
    assert res.returncode == 1
    assert res.stderr == "jifen: No colleague found: E999\n"


def test_version_and_help_point_to_the_readme(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path}/untouched.db"
    version = jifen("--version", db_url=url, cwd=tmp_path)
    assert version.returncode == 0 and version.stdout.startswith("jifen 0."), version
    for args in (("--help",), ("employees", "import", "--help"), ("grant", "--help"),
                 ("jobs", "run", "--help"), ("orders", "--help")):
        res = jifen(*args, db_url=url, cwd=tmp_path)
        assert res.returncode == 0, (args, res.stderr)
        assert "README" in res.stdout and "SPEC" not in res.stdout, (args, res.stdout)
    assert not (tmp_path / "untouched.db").exists()


def test_a_database_that_cannot_be_opened_is_one_sentence(tmp_path: Path) -> None:
    for url in (f"sqlite+aiosqlite:///{tmp_path}/no/such/dir/j.db",
                "postgresql+asyncpg://postgres@127.0.0.1:1/jifen"):  # nothing listens on port 1
        res = jifen("report", db_url=url, cwd=tmp_path)
        assert res.returncode == 1, res
        assert res.stderr.startswith("jifen: cannot use the database (") and "Traceback" not in res.stderr
        assert res.stderr.endswith("check JIFEN_DATABASE_URL.\n") and res.stderr.count("\n") == 1


def test_argument_mistakes_read_as_sentences(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path}/untouched.db"
    cases = {
        ("grant", "E1", "x", "--reason", "r"): "jifen: points: 'x' is not a whole number. "
                                               "See 'jifen grant --help'.\n",
        ("jobs", "run", "payroll"): "jifen: 'payroll' is not a known job; choose one of: expire, "
                                    "expiry-reminders, approval-reminders, auto-grants, "
                                    "retention, digest, report-rollup. See 'jifen jobs run --help'.\n",
        ("chat",): "jifen: missing --as. See 'jifen chat --help'.\n",
        (): "jifen: missing command. See 'jifen --help'.\n",
    }
    for args, expected in cases.items():
        res = jifen(*args, db_url=url, cwd=tmp_path)
        assert (res.returncode, res.stderr) == (1, expected), (args, res.stderr)
    assert not (tmp_path / "untouched.db").exists()
