"""后台 / admin: a one-time sign-in link to the HR console (hr / admin only)."""

from __future__ import annotations

from bot.handlers.hr import hr_only
from bot.runtime.commands import Command
from bot.runtime.context import Ctx
from bot.runtime.router import Router
from bot.web.auth.links import login_link

router = Router()


@router.on("console")
@hr_only
async def console(ctx: Ctx, cmd: Command) -> None:
    url = await login_link(ctx.session, ctx.settings, employee_id=ctx.me, purpose="admin",
                           now=ctx.now)
    ctx.say_key("console_link", url=url)
