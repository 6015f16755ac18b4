"""Every user-facing string on a card, in Chinese and English (one place to review wording).

Keys are looked up with :func:`t`; a key missing in one locale is a bug, which the tests catch by
comparing the key sets. Command words here must match what the chat command parser accepts
(SPEC section 2), because they are printed as the text fallback of each button.
"""

from __future__ import annotations

from typing import Literal

Locale = Literal["zh", "en"]
LOCALES: tuple[Locale, ...] = ("zh", "en")

ZH: dict[str, str] = {
    "app": "积分",
    "points": "{n} 分",
    "points_signed": "+{n} 分",
    "reply_hint": "或回复：{commands}",
    "or": " / ",
    "sep": "：",
    "more": "（更多内容已省略）",
    # balance
    "balance.title": "我的积分",
    "balance.balance": "余额",
    "balance.allowance": "本月可赠",
    "balance.expiry": "即将过期",
    "balance.expiry_value": "{n} 分（{date} 到期）",
    "balance.no_expiry": "暂无",
    "btn.catalog": "商城",
    "cmd.catalog": "商城",
    "cmd.catalog_category": "商城 {category}",
    # award received
    "award.title": "你收到了 {n} 积分",
    "award.line": "{giver} 给你点了赞：{reason}",
    "award.from": "来自",
    "award.amount": "积分",
    # approval request
    "approval.title.award": "积分奖励待审批",
    "approval.title.application": "积分申请待审批",
    "approval.title.redemption": "兑换待审批",
    "approval.id": "审批单",
    "approval.requester": "申请人",
    "approval.amount": "积分",
    "btn.approve": "同意",
    "btn.reject": "拒绝",
    "cmd.approve": "同意 {id}",
    "cmd.reject": "拒绝 {id}",
    "approval.reject_hint": "拒绝时可附原因，如：拒绝 {id} 超出预算",
    # approval decided
    "decided.title": "审批单 {id} {status}",
    "decided.status.approved": "已同意",
    "decided.status.rejected": "已拒绝",
    "decided.status.cancelled": "已撤销",
    "decided.status.expired": "已过期",
    "decided.by": "处理人",
    "decided.comment": "意见",
    "decided.line": "{summary}（{points}）",
    # redemption confirm
    "redeem.title": "确认兑换",
    "redeem.line": "兑换 {item} × {qty}，共 {points} 分",
    "redeem.item": "商品",
    "redeem.qty": "数量",
    "redeem.points": "所需积分",
    "redeem.balance_after": "兑换后余额",
    "redeem.expires": "请在 {time} 前确认（确认码 {code}）",
    "btn.confirm": "确认兑换",
    "btn.cancel": "取消",
    "cmd.confirm": "确认 {code}",
    "cmd.cancel_redeem": "取消 {code}",
    # order status
    "order.title": "订单 {no}：{status}",
    "order.title_hr": "新订单待发货：{no}",
    "order.item": "商品",
    "order.qty": "数量",
    "order.points": "积分",
    "order.status": "状态",
    "order.code": "兑换码",
    "order.note": "备注",
    "order.status.pending_approval": "待审批",
    "order.ordered_by": "下单人",
    "order.status.placed": "待发货",
    "order.status.fulfilled": "已发货",
    "order.status.cancelled": "已取消",
    "order.status.rejected": "已拒绝",
    "order.refunded": "积分已退回",
    "order.cancel_hint": "如需取消，请回复：取消订单 {no}",
    "order.code_private": "兑换码仅你可见，请勿转发",
    "btn.fulfil": "已发货",
    "cmd.fulfil": "发货 {no}",
    # expiry reminder
    "expiry.title": "积分即将过期",
    "expiry.line": "你有 {n} 分将在 {days} 天后（{date}）过期，别浪费，去商城兑换吧。",
    "expiry.amount": "过期积分",
    "expiry.date": "过期日期",
    "btn.shop": "去兑换",
    # promotion
    "promo.title": "积分商城活动",
    "promo.sku_hint": "回复「兑换 {sku}」即可兑换",
    "promo.link": "详情：{link}",
    "link": "详情",
}

EN: dict[str, str] = {
    "app": "jifen",
    "points": "{n} pts",
    "points_signed": "+{n} pts",
    "reply_hint": "or reply: {commands}",
    "or": " / ",
    "sep": ": ",
    "more": "(more omitted)",
    "balance.title": "My points",
    "balance.balance": "Balance",
    "balance.allowance": "To give",
    "balance.expiry": "Expiring",
    "balance.expiry_value": "{n} pts on {date}",
    "balance.no_expiry": "nothing soon",
    "btn.catalog": "Catalog",
    "cmd.catalog": "catalog",
    "cmd.catalog_category": "catalog {category}",
    "award.title": "You received {n} points",
    "award.line": "{giver} thanked you: {reason}",
    "award.from": "From",
    "award.amount": "Points",
    "approval.title.award": "Award awaiting approval",
    "approval.title.application": "Points application awaiting approval",
    "approval.title.redemption": "Redemption awaiting approval",
    "approval.id": "Request",
    "approval.requester": "Requester",
    "approval.amount": "Points",
    "btn.approve": "Approve",
    "btn.reject": "Reject",
    "cmd.approve": "approve {id}",
    "cmd.reject": "reject {id}",
    "approval.reject_hint": "Add a reason when rejecting, e.g. reject {id} over budget",
    "decided.title": "Request {id} {status}",
    "decided.status.approved": "approved",
    "decided.status.rejected": "rejected",
    "decided.status.cancelled": "withdrawn",
    "decided.status.expired": "expired",
    "decided.by": "By",
    "decided.comment": "Comment",
    "decided.line": "{summary} ({points})",
    "redeem.title": "Confirm redemption",
    "redeem.line": "Redeem {item} × {qty} for {points} pts",
    "redeem.item": "Item",
    "redeem.qty": "Qty",
    "redeem.points": "Points",
    "redeem.balance_after": "Balance after",
    "redeem.expires": "Confirm before {time} (code {code})",
    "btn.confirm": "Confirm",
    "btn.cancel": "Cancel",
    "cmd.confirm": "confirm {code}",
    "cmd.cancel_redeem": "cancel {code}",
    "order.title": "Order {no}: {status}",
    "order.title_hr": "New order to fulfil: {no}",
    "order.item": "Item",
    "order.qty": "Qty",
    "order.points": "Points",
    "order.status": "Status",
    "order.code": "Code",
    "order.note": "Note",
    "order.status.pending_approval": "awaiting approval",
    "order.ordered_by": "Ordered by",
    "order.status.placed": "placed",
    "order.status.fulfilled": "fulfilled",
    "order.status.cancelled": "cancelled",
    "order.status.rejected": "rejected",
    "order.refunded": "Your points were refunded",
    "order.cancel_hint": "To cancel, reply: cancel {no}",
    "order.code_private": "This code is only for you; do not forward it",
    "btn.fulfil": "Shipped",
    "cmd.fulfil": "fulfill {no}",
    "expiry.title": "Points expiring soon",
    "expiry.line": "{n} pts expire in {days} days ({date}). Spend them in the catalog.",
    "expiry.amount": "Expiring",
    "expiry.date": "On",
    "btn.shop": "Redeem now",
    "promo.title": "Catalog promotion",
    "promo.sku_hint": "Reply \"redeem {sku}\" to get it",
    "promo.link": "Details: {link}",
    "link": "Details",
}

TEXTS: dict[str, dict[str, str]] = {"zh": ZH, "en": EN}


def t(locale: str, key: str, **params: object) -> str:
    """The ``key`` string in ``locale`` (unknown locales fall back to zh), formatted."""
    table = TEXTS.get(locale, ZH)
    return table[key].format(**params)


def reply_hint(locale: str, commands: list[str]) -> str | None:
    """``或回复：同意 A12 / 拒绝 A12`` for the given fallback commands (None if there are none)."""
    if not commands:
        return None
    return t(locale, "reply_hint", commands=t(locale, "or").join(commands))
