"""Run the real ``jifen`` console script in a subprocess."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path


def jifen(*args: str, db_url: str, cwd: Path | None = None, env: dict[str, str] | None = None,
          timeout: float = 120) -> subprocess.CompletedProcess[str]:
    exe = shutil.which("jifen")
    cmd = [exe, *args] if exe else [sys.executable, "-m", "bot.cli", *args]
    full_env = {**os.environ, "JIFEN_DATABASE_URL": db_url, **(env or {})}
    return subprocess.run(cmd, capture_output=True, text=True, cwd=cwd, env=full_env,
                          timeout=timeout, check=False)
