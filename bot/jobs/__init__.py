"""Scheduled jobs: each run is its own unit of work (or a few, in batches) calling the core."""

from bot.jobs.runner import JOB_NAMES, run_job

__all__ = ["JOB_NAMES", "run_job"]
