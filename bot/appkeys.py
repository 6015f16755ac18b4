"""The application keys every HTTP surface reads: database, settings and policy."""

from __future__ import annotations

from aiohttp import web

from config.settings import Settings
from core.db import Database
from core.policy import Policy

DB_KEY = web.AppKey("db", Database)
SETTINGS_KEY = web.AppKey("settings", Settings)
POLICY_KEY = web.AppKey("policy", Policy)
