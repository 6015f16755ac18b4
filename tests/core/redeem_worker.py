"""Fire concurrent confirmations from a separate OS process (used by test_concurrency).

Reads ``{"url", "now", "start_at", "pairs": [[employee_id, code], ...]}`` as JSON on stdin, waits
until ``start_at`` (epoch seconds) so that several workers collide, confirms every pair at once and
prints a JSON summary: how many orders were placed, how many were refused as out of stock, and the
repr of anything else.
"""

from __future__ import annotations

import asyncio
import json
import sys
import time
from datetime import datetime
from pathlib import Path
from typing import Any

from config.policy_loader import load_policy
from core import errors
from core.db import Database
from core.orders.service import OrderView, confirm

ROOT = Path(__file__).resolve().parents[2]


async def run(job: dict[str, Any]) -> dict[str, Any]:
    db = Database(job["url"])
    policy = load_policy(ROOT / "config" / "policy.yaml")
    now = datetime.fromisoformat(job["now"])

    async def one(employee_id: str, code: str) -> OrderView:
        return await db.run(lambda s: confirm(s, employee_id=employee_id, code=code, now=now,
                                              policy=policy))

    try:
        await asyncio.sleep(max(0.0, job["start_at"] - time.time()))
        results = await asyncio.gather(*(one(e, c) for e, c in job["pairs"]), return_exceptions=True)
    finally:
        await db.dispose()
    return {
        "placed": sum(isinstance(r, OrderView) for r in results),
        "out_of_stock": sum(isinstance(r, errors.OutOfStock) for r in results),
        "other": [repr(r) for r in results
                  if not isinstance(r, OrderView | errors.OutOfStock)],
    }


def main() -> None:
    print(json.dumps(asyncio.run(run(json.load(sys.stdin)))))


if __name__ == "__main__":
    main()
