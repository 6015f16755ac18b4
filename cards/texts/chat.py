"""Chat replies: help, usage lines, answers to commands and the pushes sent as plain messages."""

from __future__ import annotations

TEXTS: dict[str, tuple[str, str]] = {
    # key: (zh, en)
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
    "message_too_long": ("消息太长：最多 {max} 个字（这条 {length} 个），没有执行，请缩短后重发。", "That message is too long: at most {max} characters (this one has {length}). Nothing was done; please send a shorter one."),
    "forbidden_hr": ("只有 HR 可以使用这条指令。", "Only HR can use this command."),
    # replies
    "pts": ("分", " pts"),
    "list_sep": ("、", ", "),
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
    # 报表: the sections and figures of ``jifen report`` and the report CSV
    "report_section_points": ("【积分】", "[Points]"),
    "report_points": ("发放 {issued} · 兑换 {redeemed} · 过期 {expired} · 扣除 {deducted} · 退回 {refunded}",
                      "issued {issued} · redeemed {redeemed} · expired {expired} · deducted {deducted} · refunded {refunded}"),
    "report_section_awards": ("【点赞】", "[Awards]"),
    "report_awards": ("点赞 {n} 次，共 {points} 分", "{n} awards, {points} points"),
    "report_section_upcoming": ("【待处理（当前）】", "[Coming up (now)]"),
    "report_expiring": ("未来 30 天将过期 {n} 分（{people} 人）", "{n} points expire in the next 30 days ({people} people)"),
    "report_open_orders": ("待审批或待发货订单 {n} 个（{points} 分）", "{n} orders waiting for approval or hand-over ({points} points)"),
    "report_section_top": ("【兑换最多（本月已发货）】", "[Top items (handed over this month)]"),
    "report_section_departments": ("【各部门 发放 / 兑换】", "[Departments: issued / redeemed]"),
    "report_none": ("无", "none"),
    "push_points_granted": ("你获得了 {n} 积分", "You received {n} points"),
    "push_points_deducted": ("你的积分被扣除 {n} 分", "{n} points were deducted"),
    "push_approval_reminder": ("提醒：这条审批已等待超过 24 小时", "Reminder: this request has been waiting over 24 h"),
    "push_approval_reassigned": ("转给你审批：原审批人 {reassigned_from_name} 已离职", "Now yours to decide: {reassigned_from_name} has left the company"),
    "push_approval_escalated": ("已升级给你：原审批人 {escalated_from_name} 超过 72 小时未处理", "Escalated to you: {escalated_from_name} did not decide within 72 h"),
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
}
