"""Every user-facing chat string, Chinese and English, and the map from core error codes to text."""

from __future__ import annotations

from typing import Any

from cards.texts import Locale
from core.errors import BadOrderState, CoreError

TEXTS: dict[str, tuple[str, str]] = {
    # (zh, en)
    "not_enrolled": ("你还没有加入积分系统，请联系 HR 开通。", "You are not enrolled yet; please ask HR to add you."),
    "internal_error": ("系统繁忙，请稍后再试。", "Something went wrong; please try again later."),
    "unknown_command": ("没看懂这条指令。发送「帮助」查看可用指令。", "I did not understand that. Send \"help\" for the commands."),
    "help": (
        "可用指令：\n积分 — 余额与额度\n明细 [n] — 最近记录\n赞 @同事 10分 理由 — 送积分\n"
        "商城 [分类] — 积分商城\n兑换 SKU [数量] — 兑换\n订单 — 我的订单\nHR：订单 待发货 — 待处理订单\n取消订单 订单号\n"
        "申请 N 理由 — 积分申请\n审批 — 待我审批\n同意 A12 / 拒绝 A12 [理由]\n排行 [本月|上月|本季|今年] [部门]\n"
        "+1 Z12 [分数] / 我也赞 Z12 — 一起点赞\n撤回 Z12 — 撤回我的点赞\n申诉 T12|Z12|A12 理由\n"
        "排行 点赞 / 排行 价值观 [本月|上月|本季|今年] [部门]\n"
        "HR：发放 / 扣除 / 撤销 Z12 原因 / 发货 / 广播 / 报表 / 后台",
        "Commands:\nbalance — points and allowance\nhistory [n] — latest entries\n"
        "give @colleague 10 reason — thank someone\ncatalog [category] — the shop\n"
        "redeem SKU [qty]\norders — my orders\nHR: orders open — orders waiting for a person\ncancel ORDER-NO\napply N reason — ask for points\n"
        "approvals — waiting for me\napprove A12 / reject A12 [reason]\n"
        "leaderboard [month|last month|quarter|year]\n+1 Z12 [points] — join an award\nundo Z12 — take my award back\n"
        "appeal T12|Z12|A12 reason\nleaderboard givers / leaderboard values [month|last month|quarter|year]\n"
        "HR: grant / deduct / revoke Z12 reason / fulfill / broadcast / report / admin",
    ),
    "usage_give": ("用法：赞 @同事 10分 理由（至少 4 个字）", "Usage: give @colleague 10 reason"),
    "usage_grant": ("用法：发放 @同事 100 理由", "Usage: grant @colleague 100 reason"),
    "usage_deduct": ("用法：扣除 @同事 50 理由", "Usage: deduct @colleague 50 reason"),
    "usage_apply": ("用法：申请 50 理由与证明", "Usage: apply 50 reason and evidence"),
    "usage_redeem": ("用法：兑换 SKU [数量]", "Usage: redeem SKU [qty]"),
    "usage_target": ("缺少编号，例如：{example}", "Missing the id, e.g. {example}"),
    "usage_history": ("用法：明细 [条数]", "Usage: history [n]"),
    "usage_broadcast": ("用法：广播 [@群名] 内容", "Usage: broadcast [@target] text"),
    "usage_report": ("用法：报表 [YYYY-MM]", "Usage: report [YYYY-MM]"),
    "forbidden_hr": ("只有 HR 可以使用这条指令。", "Only HR can use this command."),
    # replies
    "pts": ("分", " pts"),
    "history_empty": ("还没有积分记录。", "No entries yet."),
    "history_title": ("最近 {n} 条积分记录：", "Your latest {n} entries:"),
    "leaderboard_title": ("{period}排行榜{department}", "Leaderboard, {period}{department}"),
    "leaderboard_empty": ("还没有人上榜。", "Nobody on the board yet."),
    "period_month": ("本月", "this month"), "period_quarter": ("本季", "this quarter"),
    "period_year": ("今年", "this year"), "period_last_month": ("上月", "last month"),
    "leaderboard_unknown": ("没有「{what}」这个时间段或部门。时间段：本月、上月、本季、今年；部门：{departments}",
                            "\"{what}\" is neither a period nor a department. Periods: month, last month, quarter, year; departments: {departments}"),
    "award_done": ("点赞成功！本月剩余额度 {left}", "Sent! Allowance left this month: {left}"),
    "award_sent": ("{name} 收到 {n} 分", "{name} received {n}"),
    "award_pending": ("{name} 的 {n} 分已提交审批（{id}）", "{name}: {n} submitted for approval ({id})"),
    "award_submitted": ("已提交审批，通过后对方才会收到积分。本月剩余额度 {left}", "Submitted for approval; the points arrive once approved. Allowance left this month: {left}"),
    "applied": ("已提交积分申请 {n} 分，等待审批（{id}）", "Applied for {n} points; waiting for approval ({id})"),
    "approvals_none": ("没有待你审批的事项。", "Nothing is waiting for your approval."),
    "approvals_count": ("待你审批：{n} 项", "Waiting for you: {n}"),
    "approval_forwarded": ("已同意 {id}，已转下一位审批人。", "Approved {id}; it moves to the next approver."),
    "catalog_empty": ("商城暂时没有可兑换的商品。", "Nothing to redeem right now."),
    "catalog_stock": ("（剩 {n}）", " ({n} left)"), "catalog_sold_out": ("（已兑完）", " (sold out)"),
    "catalog_unknown_category": ("商城没有「{category}」这个分类。可选：{categories}", "The catalog has no category \"{category}\". Categories: {categories}"),
    "catalog_title": ("积分商城{category}", "Catalog{category}"),
    "catalog_hint": ("回复「兑换 SKU [数量]」兑换", "Reply \"redeem SKU [qty]\" to redeem"),
    "redeem_cancelled": ("已取消兑换 {code}", "Redemption {code} cancelled"),
    "orders_open_none": ("没有待发货的订单。", "No open orders."),
    "orders_open_title": ("待发货订单（{n} 个，最早的在后）：", "Open orders ({n}, oldest last):"),
    "usage_orders": ("用法：订单 [待发货]", "Usage: orders [open]"),
    "orders_none": ("你还没有订单。", "You have no orders yet."),
    "orders_title": ("我的订单（最近 {n} 个）：", "My orders (latest {n}):"),
    "status_pending_approval": ("待审批", "waiting for approval"),
    "status_placed": ("待发货", "placed"), "status_fulfilled": ("已发货", "fulfilled"),
    "status_cancelled": ("已取消", "cancelled"), "status_rejected": ("已拒绝", "rejected"),
    "grant_done": ("发放完成：", "Granted:"), "deduct_done": ("扣除完成：", "Deducted:"),
    "grant_line": ("{who} +{n}，余额 {balance}", "{who} +{n}, balance {balance}"),
    "deduct_line": ("{who} -{n}，余额 {balance}", "{who} -{n}, balance {balance}"),
    "broadcast_unknown": ("没有名为 {target} 的广播目标。可用：{targets}", "No broadcast target {target}. Known: {targets}"),
    "broadcast_none": ("还没有配置广播目标（policy.yaml 的 broadcast.targets）。", "No broadcast targets configured (broadcast.targets in policy.yaml)."),
    "broadcast_queued": ("已发送到 {n} 个群：{targets}", "Sent to {n} target(s): {targets}"),
    "report_title": ("{month} 积分报表", "Points report {month}"),
    "report_flows": ("发放 {issued} · 兑换 {redeemed} · 过期 {expired}", "issued {issued} · redeemed {redeemed} · expired {expired}"),
    "report_awards": ("点赞 {n} 次，共 {points} 分", "{n} awards, {points} points"),
    "report_expiring": ("未来 30 天将过期 {n} 分（{people} 人）", "{n} points expire in the next 30 days ({people} people)"),
    "push_points_granted": ("你获得了 {n} 积分", "You received {n} points"),
    "push_points_deducted": ("你的积分被扣除 {n} 分", "{n} points were deducted"),
    "push_approval_reminder": ("提醒：这条审批已等待超过 24 小时", "Reminder: this request has been waiting over 24 h"),
    "push_approval_reassigned": ("转给你审批：原审批人 {reassigned_from_name} 已离职", "Now yours to decide: {reassigned_from_name} has left the company"),
    "push_approval_escalated": ("已升级给你：原审批人 {escalated_from_name} 超过 72 小时未处理", "Escalated to you: {escalated_from_name} did not decide within 72 h"),
    # core error codes
    "invalid_amount": ("积分数量必须是正整数。", "The amount must be a positive whole number."),
    "invalid_quantity": ("数量必须是 1 到 {max} 之间的整数（你写的是 {qty}）。", "The quantity must be a whole number from 1 to {max} (you wrote {qty})."),
    "insufficient_points": ("积分不足：余额 {balance}，需要 {need}", "Not enough points: balance {balance}, need {need}"),
    "insufficient_allowance": ("本月点赞额度不足：剩余 {left}，需要 {need}", "Not enough giving allowance this month: {left} left, {need} needed"),
    "unknown_employee": ("找不到同事：{who}", "No colleague found: {who}"),
    "ambiguous_name": ("有多位同事叫 {who}，请用工号指定：{candidates}", "Several people are called {who}; use an id: {candidates}"),
    "inactive_employee": ("{who} 已不在职，不能接收积分。", "{who} is no longer active."),
    "self_award": ("不能给自己点赞。", "You cannot award yourself."),
    "reason_too_short": ("理由至少需要 {min} 个字。", "The reason needs at least {min} characters."),
    "reason_too_long": ("理由最多 {max} 个字（现在 {length} 个）。", "The reason can be at most {max} characters (this one has {length})."),
    "pair_limit": ("今天已给 {who} 点赞 {limit} 次，明天再来吧。", "You already awarded {who} {limit} times today."),
    "value_required": ("请带上一个价值观标签，例如 {values}", "Add a company-value hashtag, e.g. {values}"),
    "unknown_value": ("没有这个价值观标签：#{value}", "Unknown value hashtag: #{value}"),
    "not_approver": ("你不是这条审批的当前审批人。", "You are not the current approver of this request."),
    "already_decided": ("已由 {by} 处理", "Already handled by {by}"),
    "unknown_approval": ("找不到审批单 {id}", "No approval {id}"),
    "no_approver": ("找不到审批人，请联系 HR。", "No approver found; please contact HR."),
    "unknown_item": ("商城里没有 {sku}", "No item {sku} in the catalog"),
    "not_available": ("{sku} 当前不在兑换时间内。", "{sku} is not available right now."),
    "out_of_stock": ("{sku} 库存不足。", "{sku} is out of stock."),
    "limit_reached": ("{sku} 每人每月限兑 {limit} 件，你已兑换 {used} 件。", "{sku}: limit {limit} per month, you have {used}."),
    "codes_exhausted": ("{sku} 的券码已兑完。", "{sku} has no codes left."),
    "unknown_confirmation": ("找不到待确认的兑换 {confirmation}", "No pending redemption {confirmation}"),
    "confirmation_expired": ("兑换确认已过期，请重新兑换。", "The confirmation expired; please redeem again."),
    "unknown_order": ("找不到订单 {order_no}", "No order {order_no}"),
    "bad_order_state": ("该订单{status}，不能这样操作。", "The order is {status}; that is not possible now."),
    "bad_order_state_cancel": ("该订单{status}，不能取消。", "The order is {status}; it cannot be cancelled."),
    "bad_order_state_fulfil": ("该订单{status}，不能发货。", "The order is {status}; it cannot be fulfilled."),
    "no_recipients": ("请至少 @ 一位同事。", "Name at least one colleague."),
    "duplicate_recipients": ("同一位同事只能写一次。", "Name each colleague only once."),
    "forbidden": ("你没有权限做这件事。", "You are not allowed to do that."),
    "invalid_input": ("输入有误：{message}", "Invalid input: {message}"),
    "link_invalid": ("登录链接无效。", "This sign-in link is not valid."),
    "link_used": ("登录链接已使用过，每个链接只能用一次。", "This sign-in link was already used; each link works once."),
    "link_expired": ("登录链接已过期（10 分钟有效）。", "This sign-in link has expired (links last 10 minutes)."),
    # sign-in from chat (后台 / admin)
    "console_link": ("HR 后台登录链接（10 分钟内有效，仅可使用一次）：\n{url}", "Sign-in link for the HR console (valid 10 minutes, works once):\n{url}"),
    # recognition (SPEC section 13)
    "appeal_hint": ("如有异议，可回复「申诉 {id} 理由」", "To appeal, reply \"appeal {id} reason\""),
    "usage_join": ("用法：+1 Z12 [分数] 或 我也赞 Z12 [分数]", "Usage: +1 Z12 [points]"),
    "usage_undo": ("用法：撤回 Z12", "Usage: undo Z12"),
    "usage_revoke": ("用法：撤销 Z12 原因", "Usage: revoke Z12 reason"),
    "usage_appeal": ("用法：申诉 T12|Z12|A12 理由", "Usage: appeal T12|Z12|A12 reason"),
    "award_id_line": ("（编号 {id}，同事可回复「+1 {id}」一起点赞）", "(id {id}; colleagues can reply \"+1 {id}\" to join)"),
    "join_done": ("已为 {name} 追加点赞 {n} 分（{id}）。本月剩余额度 {left}", "You joined: {name} gets {n} more ({id}). Allowance left: {left}"),
    "join_pending": ("追加给 {name} 的 {n} 分需审批（{approval}）。本月剩余额度 {left}", "Your +{n} for {name} waits for approval ({approval}). Allowance left: {left}"),
    "undo_done": ("已撤回给 {name} 的 {n} 分（{id}），额度已退回 {returned}。", "Taken back: {n} from {name} ({id}); {returned} allowance returned."),
    "undo_withdrawn": ("已撤回待审批的点赞 {id}，额度已退回 {returned}。", "Withdrew pending award {id}; {returned} allowance returned."),
    "revoke_done": ("已撤销 {id}：从 {name} 收回 {reversed}/{n} 分。", "Revoked {id}: {reversed} of {n} points taken back from {name}."),
    "revoke_partial": ("对方余额不足，仅收回 {reversed} 分（余额不会变为负数）。", "Only {reversed} could be taken back (balances never go negative)."),
    "appealed": ("已提交申诉 {subject}（{n} 分），等待 HR 审批（{id}）", "Appeal of {subject} ({n} points) filed; HR decides ({id})"),
    "board_givers_title": ("{period}点赞榜{department}", "Top givers, {period}{department}"),
    "board_values_title": ("{period}价值观榜{department}", "Values, {period}{department}"),
    "board_giver_line": ("{rank}. {name}（{department}）送出 {points} 分 · {awards} 次", "{rank}. {name} ({department}) gave {points} in {awards} awards"),
    "board_value_line": ("{rank}. #{value} {awards} 次 · {points} 分", "{rank}. #{value} {awards} awards · {points} pts"),
    # errors
    "unknown_award": ("找不到点赞 {id}", "No award {id}"),
    "bad_award_state": ("点赞 {id} 已被拒绝、撤回或撤销，不能这样操作。", "Award {id} was rejected, taken back or revoked; that is not possible now."),
    "already_joined": ("你已经为 {id} 点过赞了。", "You already joined {id}."),
    "not_your_award": ("只能撤回自己送出的点赞。", "You can only take back your own awards."),
    "undo_expired": ("已超过 {minutes} 分钟，不能撤回；如有错误请联系 HR 撤销。", "More than {minutes} minutes have passed; ask HR to revoke it."),
    "points_spent": ("对方已使用了这笔积分，不能撤回；如有错误请联系 HR。", "The recipient already spent those points; ask HR."),
    "nothing_to_reverse": ("对方余额为 {balance}，没有可收回的积分。", "The recipient's balance is {balance}; nothing to take back."),
    "unknown_appeal_subject": ("找不到可申诉的 {id}（扣分用 T 编号，点赞用 Z 编号，申请用 A 编号）", "Nothing to appeal under {id} (T… deductions, Z… awards, A… applications)"),
    "not_appealable": ("{id} 不是被扣分或被拒绝的事项，无需申诉。", "{id} was not deducted or rejected; nothing to appeal."),
    "already_appealed": ("{id} 已申诉过，不能重复申诉。", "{id} was already appealed."),
}


def lang_of(locale: str | None) -> Locale:
    return "en" if (locale or "").lower().startswith("en") else "zh"


class _Defaults(dict[str, Any]):
    def __missing__(self, key: str) -> str:
        return ""


def t(key: str, lang: Locale, **params: Any) -> str:
    """The text for ``key`` in ``lang`` ("zh"/"en"), with ``params`` filled in (missing ones blank)."""
    zh, en = TEXTS[key]
    return (en if lang == "en" else zh).format_map(_Defaults(params))


def error_text(exc: CoreError, lang: Locale) -> str:
    """One short sentence for a refused action (every CoreError code has one in TEXTS)."""
    params = dict(exc.params)
    if "candidates" in params:
        params["candidates"] = "；".join(
            f"{c.name}（{c.department}，{c.employee_id}）" for c in params["candidates"])
    code = exc.code
    if isinstance(exc, BadOrderState):  # the state in words, and what it stops ("不能取消")
        params["status"] = t(f"status_{exc.status}", lang) if f"status_{exc.status}" in TEXTS else ""
        code = f"{code}_{exc.action}" if f"{code}_{exc.action}" in TEXTS else code
    if code in TEXTS:
        return t(code, lang, **params)
    return t("internal_error", lang)  # a new refusal without a sentence yet: never its code


# The web pages' strings (HR console; the mall adds its own), (zh, en) like TEXTS.
WEB_TEXTS: dict[str, tuple[str, str]] = {
    "console": ("积分后台", "jifen console"),
    "nav_dashboard": ("概览", "Dashboard"), "nav_employees": ("员工", "Employees"),
    "nav_catalog": ("商品", "Catalog"), "nav_orders": ("订单", "Orders"),
    "nav_approvals": ("审批", "Approvals"), "nav_grants": ("发放", "Grants"),
    "nav_broadcasts": ("广播", "Broadcasts"), "nav_reports": ("报表", "Reports"),
    "nav_audit": ("审计", "Audit log"), "logout": ("退出", "Sign out"),
    "signin_failed": ("无法登录", "Cannot sign in"),
    "signin_again": ("请在聊天中向机器人发送「后台」获取新的登录链接。", "Send \"admin\" to the bot in chat for a new sign-in link."),
    "signed_out": ("你尚未登录或会话已结束。", "You are not signed in, or your session has ended."),
    "forbidden_page": ("只有 HR 和管理员可以使用后台。", "Only HR and admins can use the console."),
    "csrf_refused": ("页面已过期，请刷新后重试。", "This page has expired; reload it and try again."),
    "not_found": ("找不到这个页面。", "Page not found."),
    "bad_request": ("请求有误：{message}", "Bad request: {message}"),
    # dashboard
    "issued": ("发放", "Issued"), "redeemed": ("兑换", "Redeemed"), "expired": ("过期", "Expired"),
    "deducted": ("扣除", "Deducted"), "refunded": ("退回", "Refunded"),
    "by_month": ("近 12 个月积分流水", "Points by month, last 12 months"),
    "this_month": ("本月 {month}", "This month {month}"),
    "participation": ("参与度", "Participation"),
    "gave_share": ("送出点赞 {n}/{total} 人（{pct}%）", "Gave awards: {n}/{total} ({pct}%)"),
    "received_share": ("收到点赞 {n}/{total} 人（{pct}%）", "Received awards: {n}/{total} ({pct}%)"),
    "allowance_used": ("已用点赞额度", "Allowance used"),
    "top_values": ("热门价值观", "Top values"), "departments": ("部门", "Departments"),
    "departments_12m": ("各部门（近 12 个月）", "Departments, last 12 months"),
    "orders_waiting": ("待处理订单", "Orders waiting"),
    "approvals_waiting": ("待审批", "Approvals waiting"),
    "expiring_30d": ("30 天内过期", "Expiring in 30 days"),
    "expiring_people": ("{n} 分，{people} 人", "{n} pts, {people} people"),
    "age": ("已等待", "Waiting"), "hours": ("{n} 小时", "{n} h"), "days": ("{n} 天", "{n} d"),
    "none": ("暂无", "None"), "top_items": ("热门商品", "Top items"),
    # employees
    "search": ("搜索", "Search"), "search_hint": ("姓名 / 工号 / 部门", "name / id / department"),
    "employee_id": ("工号", "ID"), "name": ("姓名", "Name"), "department": ("部门", "Department"),
    "roles": ("角色", "Roles"), "active": ("在职", "Active"), "inactive": ("已离职", "Inactive"),
    "balance": ("余额", "Balance"), "allowance": ("本月点赞额度", "Allowance this month"),
    "allowance_left": ("剩余 {left} / {limit}", "{left} left of {limit}"),
    "lots": ("积分批次", "Lots"), "expires": ("过期时间", "Expires"), "remaining": ("剩余", "Left"),
    "amount": ("数量", "Amount"), "history": ("全部明细", "Full history"), "time": ("时间", "Time"),
    "kind": ("类型", "Kind"), "reason": ("理由", "Reason"), "actor": ("操作人", "By"),
    "ref": ("关联", "Ref"), "points": ("积分", "Points"),
    "grant": ("发放", "Grant"), "deduct": ("扣除", "Deduct"),
    "granted": ("已发放 {n} 分，余额 {balance}", "Granted {n}, balance {balance}"),
    "deducted_ok": ("已扣除 {n} 分，余额 {balance}", "Deducted {n}, balance {balance}"),
    "already_done": ("这次操作之前已完成，未重复执行。", "Already done before; nothing repeated."),
    # orders
    "order_no": ("订单号", "Order"), "item": ("商品", "Item"), "qty": ("数量", "Qty"),
    "state": ("状态", "State"), "all": ("全部", "All"), "contact": ("联系方式", "Contact"),
    "note": ("备注", "Note"), "filter": ("筛选", "Filter"), "export_csv": ("导出 CSV", "Export CSV"),
    "fulfil": ("发货", "Fulfil"), "cancel": ("取消", "Cancel"),
    "fulfil_selected": ("批量发货", "Fulfil selected"), "cancel_selected": ("批量取消", "Cancel selected"),
    "orders_done": ("已处理 {n} 个订单", "{n} order(s) done"),
    "nothing_selected": ("没有选择订单。", "No order selected."),
    "state_pending_approval": ("待审批", "awaiting approval"), "state_placed": ("待发货", "to fulfil"),
    "state_fulfilled": ("已发货", "fulfilled"), "state_cancelled": ("已取消", "cancelled"),
    "state_rejected": ("已拒绝", "rejected"),
    # grants
    "grants_title": ("批量发放", "Bulk grants"),
    "grants_help": ("上传 CSV：employee_id,points,reason[,key][,expires_at]。确认前不会有任何变更；同一个文件上传两次只发放一次。",
                    "Upload a CSV: employee_id,points,reason[,key][,expires_at]. Nothing changes before you confirm; the same file twice grants once."),
    "upload": ("上传预览", "Upload and preview"), "or_paste": ("或粘贴内容", "or paste the content"),
    "preview": ("预览", "Preview"), "line": ("行", "Line"), "new_balance": ("发放后余额", "New balance"),
    "problem": ("问题", "Problem"), "confirm_grants": ("确认发放 {n} 行，共 {points} 分", "Confirm {n} row(s), {points} points"),
    "fix_problems": ("有 {n} 行有问题，请修改文件后重新上传；现在不会发放任何积分。", "{n} row(s) have problems; fix the file and upload it again. Nothing will be granted now."),
    "already_granted": ("已发放过（不会重复）", "already granted (skipped)"),
    "grants_done": ("发放完成：新发放 {n} 行，{dup} 行此前已发放。", "Done: {n} new row(s) granted, {dup} already granted before."),
    "not_active": ("不是在职员工", "not an active employee"),
    "ok": ("可以发放", "ready"),
    # catalog
    "sku": ("SKU", "SKU"), "category": ("分类", "Category"), "stock": ("库存", "Stock"),
    "sold": ("已兑", "Sold"), "limit": ("每人每月限兑", "Limit per month"),
    "requires_approval": ("需要审批", "Needs approval"), "description": ("描述", "Description"),
    "image_url": ("图片地址", "Image URL"), "available_from": ("开始时间", "Available from"),
    "available_until": ("结束时间", "Available until"), "codes_left": ("剩余券码", "Codes left"),
    "new_item": ("新建商品", "New item"), "save": ("保存", "Save"), "restock": ("补货", "Restock"),
    "add_codes": ("添加券码（每行一个，或上传文件）", "Add codes (one per line, or upload a file)"),
    "deactivate": ("下架", "Deactivate"), "activate": ("上架", "Activate"), "saved": ("已保存", "Saved"),
    "codes_added": ("已添加 {n} 个券码", "{n} code(s) added"), "edit": ("编辑", "Edit"),
    # approvals
    "requester": ("申请人", "Requester"), "approver": ("当前审批人", "Approver"),
    "summary": ("内容", "Summary"), "approve": ("同意", "Approve"), "reject": ("拒绝", "Reject"),
    "decided": ("已处理", "Decided"), "admins_decide": ("管理员可以直接处理。", "Admins can decide here."),
    # broadcasts
    "text": ("内容", "Text"), "targets": ("目标群", "Targets"), "send_now": ("立即发送", "Send now"),
    "schedule_at": ("定时发送（本地时间）", "Schedule (local time)"),
    "broadcast_sent": ("已排队发送到 {n} 个群", "Queued to {n} target(s)"),
    "no_targets": ("还没有配置广播目标（policy.yaml 的 broadcast.targets）。", "No broadcast targets configured (broadcast.targets in policy.yaml)."),
    "show_preview": ("预览", "Preview"),
    # reports and audit
    "month": ("月份", "Month"), "show": ("查看", "Show"), "download_csv": ("下载 CSV", "Download CSV"),
    "awards": ("点赞", "Awards"), "subject": ("对象", "Subject"),
    "when": ("时间", "When"), "action": ("操作", "Action"), "before": ("之前", "Before"), "after": ("之后", "After"),
    # employee mall /m
    "mall": ("积分商城", "Points mall"), "open_mall": ("打开商城", "Open the mall"),
    "m_home": ("我的", "Me"), "m_catalog": ("商城", "Shop"), "m_orders": ("订单", "Orders"),
    "m_give": ("送积分", "Give"), "m_board": ("排行", "Ranking"), "m_history": ("积分明细", "History"),
    "m_balance": ("可用积分", "Points"), "m_allowance": ("本月可送额度", "Allowance left this month"),
    "m_expiring": ("即将过期", "Expiring soonest"), "m_expires_on": ("{date} 过期", "expires {date}"),
    "m_no_expiry": ("暂无将过期的积分", "Nothing expiring"),
    "m_recent": ("最近记录", "Recent entries"), "m_all_history": ("全部明细", "All entries"),
    "m_search": ("搜索商品", "Search items"), "m_all": ("全部", "All"),
    "m_sold_out": ("已兑完", "Sold out"), "m_left": ("剩 {n} 件", "{n} left"),
    "m_limit": ("每人每月限 {n} 件", "Limit {n} per person a month"),
    "m_needs_approval": ("兑换需审批", "Needs approval"), "m_no_items": ("没有找到商品。", "No items found."),
    "m_redeem": ("兑换", "Redeem"), "m_qty": ("数量", "Qty"), "m_back": ("返回", "Back"),
    "m_confirm_title": ("确认兑换", "Confirm redemption"),
    "m_confirm_note": ("确认码 {code}，{time} 前有效；在聊天里回复「确认 {code}」也可以。",
                       "Code {code}, valid until {time}; replying \"confirm {code}\" in chat works too."),
    "m_confirm": ("确认兑换", "Confirm"), "m_cancel": ("取消", "Cancel"),
    "m_item": ("商品", "Item"), "m_cost": ("所需积分", "Points"), "m_after": ("兑换后余额", "Balance after"),
    "m_confirm_gone": ("这个确认已失效，请重新兑换。", "This confirmation is no longer open; please redeem again."),
    "m_ordered": ("兑换成功，订单 {no}", "Redeemed: order {no}"),
    "m_redeem_cancelled": ("已取消兑换", "Redemption cancelled"),
    "m_no_orders": ("还没有订单。", "No orders yet."), "m_code": ("券码", "Code"),
    "m_cancel_order": ("取消订单", "Cancel order"), "m_order_cancelled": ("订单 {no} 已取消，积分已退回", "Order {no} cancelled; points refunded"),
    "m_colleague": ("同事", "Colleague"), "m_find": ("搜索姓名或部门", "Search a name or department"),
    "m_points": ("积分", "Points"), "m_reason": ("理由", "Reason"), "m_values": ("价值观", "Values"),
    "m_send": ("送出", "Send"), "m_pick": ("请选择一位同事", "Pick a colleague"),
    "m_board_title": ("排行榜", "Leaderboard"), "m_logout": ("退出", "Sign out"),
    "m_signin_title": ("请从企业微信或钉钉进入", "Open the mall from WeCom or DingTalk"),
    "m_signin_hint": ("在聊天里发送「积分」，点卡片上的「打开商城」；或从工作台打开积分商城。",
                      "Send \"balance\" in chat and tap \"Open the mall\" on the card, or open the mall from the workbench."),
    "m_not_enrolled": ("你还没有加入积分系统", "You are not enrolled yet"),
    "m_not_enrolled_hint": ("你的账号不在积分系统的员工名单里。请联系 HR 开通，之后再从工作台打开。",
                            "Your account is not in jifen's directory. Please ask HR to add you, then open the mall again."),
    "m_code_refused": ("登录码无效或已过期，请重新打开商城。", "The sign-in code is invalid or has expired; please open the mall again."),
    "m_platform_off": ("这个入口没有启用。", "This sign-in is not enabled."),
    "m_platform_down": ("暂时无法连接企业微信或钉钉，请稍后再试。", "WeCom or DingTalk cannot be reached right now; please try again later."),
    "m_dingtalk_wait": ("正在通过钉钉登录…", "Signing in with DingTalk…"),
    "m_dingtalk_outside": ("请在钉钉里打开这个页面。", "Please open this page inside DingTalk."),
    "m_per_unit": ("{n} 分", "{n} pts"),
}


def tw(key: str, lang: str, **params: Any) -> str:
    """A web string (WEB_TEXTS, else TEXTS) in ``lang`` with ``params`` filled in."""
    zh, en = WEB_TEXTS.get(key) or TEXTS[key]
    return (en if lang == "en" else zh).format_map(_Defaults(params))
