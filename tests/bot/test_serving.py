"""``jifen run --workers``: what must stay in one process, and bad worker counts refused."""

from __future__ import annotations

import socket
from pathlib import Path

from bot.app.serving import single_process_reason
from config.settings import Settings
from tests.cli_helpers import jifen

WECOM = {"wecom_corp_id": "c", "wecom_agent_id": "1", "wecom_secret": "s", "wecom_token": "t",
         "wecom_aes_key": "k" * 43}


def _settings(**values: object) -> Settings:
    return Settings(_env_file=None, **values)  # type: ignore[call-arg, arg-type]


def test_a_platform_on_a_database_file_may_have_workers(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'j.db'}"
    assert single_process_reason(_settings(database_url=url, **WECOM)) is None
    assert single_process_reason(_settings(
        database_url="postgresql+asyncpg://u@h/db", **WECOM)) is None


def test_the_playground_and_an_in_memory_database_keep_one_process(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'j.db'}"
    reason = single_process_reason(_settings(database_url=url))  # no platform: the playground
    assert reason is not None and "playground" in reason
    for memory in ("sqlite+aiosqlite:///:memory:", "sqlite+aiosqlite://"):
        reason = single_process_reason(_settings(database_url=memory, **WECOM))
        assert reason is not None and "in-memory" in reason


def test_a_worker_count_below_one_is_refused_in_one_line(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'j.db'}"
    flag = jifen("run", "--workers", "0", db_url=url)
    assert flag.returncode == 1
    assert "'0' is not a positive whole number" in flag.stderr and "Traceback" not in flag.stderr
    env = jifen("run", db_url=url, env={"JIFEN_WORKERS": "0"})
    assert env.returncode == 1
    assert env.stderr.startswith("jifen: configuration: JIFEN_WORKERS:"), env.stderr
    assert not (tmp_path / "j.db").exists()  # refused before anything started


def test_workers_on_a_taken_port_are_refused_in_one_line(tmp_path: Path) -> None:
    """As one process is: SO_REUSEPORT would otherwise let the workers share a port that
    something else (say, another ``jifen run --workers``) listens on."""
    url = f"sqlite+aiosqlite:///{tmp_path / 'j.db'}"
    with socket.create_server(("127.0.0.1", 0)) as taken:
        env = {f"JIFEN_{k.upper()}": v for k, v in WECOM.items()}
        env["JIFEN_HTTP_PORT"] = str(taken.getsockname()[1])
        result = jifen("run", "--workers", "2", db_url=url, env=env)
    assert result.returncode == 1
    assert result.stderr.strip().splitlines()[-1].startswith("jifen: Address already in use")
    assert "Traceback" not in result.stderr
    assert not (tmp_path / "j.db").exists()  # refused before the database was touched
