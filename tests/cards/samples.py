"""Sample cards for the snapshot and property tests: every kind, both locales, edge variants."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

from cards import builders as b
from cards.model import Card
from cards.texts import Locale

# 2027-04-01 00:00 Asia/Shanghai: the exclusive end of 2027-03-31 (how the ledger stores expiry).
EXPIRES = datetime(2027, 3, 31, 16, 0, tzinfo=UTC)
CONFIRM_UNTIL = datetime(2026, 3, 15, 6, 40, tzinfo=UTC)  # 14:40 in Shanghai


def _per_locale(locale: Locale) -> dict[str, Card]:
    return {
        "balance": b.balance(1250, 85, 120, EXPIRES, locale),
        "balance_no_expiry": b.balance(0, 100, 0, None, locale),
        "award_received": b.award_received("李四", 20, "帮我排查线上故障 #客户第一", locale),
        "approval_request_award": b.approval_request(
            "A12", "award", "张三", 80, "赞 李四 80 分：季度项目按时上线", locale),
        "approval_request_application": b.approval_request(
            "A13", "application", "王五", 150, "组织部门技术分享 3 次", locale),
        "approval_request_redemption": b.approval_request(
            "A14", "redemption", "赵六", 2000, "兑换 带薪假 1 天", locale),
        "approval_decided_approved": b.approval_decided(
            "A12", "approved", "王经理", None, locale, summary="@张三 帮忙排查线上故障", amount=60),
        "approval_decided_rejected": b.approval_decided(
            "A13", "rejected", "王经理", "超出预算", locale),
        "redemption_confirm": b.redemption_confirm(
            "K7F2QX", "星巴克咖啡券", 2, 300, 950, CONFIRM_UNTIL, locale),
        "order_placed": b.order_status("O2603-0007", "蓝牙耳机", 1, 800, "placed", None, None,
                                       locale),
        "order_placed_hr": b.order_status("O2603-0007", "蓝牙耳机", 1, 800, "placed", None,
                                          "工位 B-12", locale, for_hr=True),
        "order_fulfilled_code": b.order_status("O2603-0008", "视频会员月卡", 1, 150, "fulfilled",
                                               "VIP-8F3K-22QX", None, locale),
        "order_rejected": b.order_status("O2603-0009", "带薪假 1 天", 1, 2000, "rejected", None,
                                         "本月名额已满", locale),
        "expiry_reminder": b.expiry_reminder(120, EXPIRES, 7, locale),
        "promotion": b.promotion("春节限时兑换！\n全场礼品 8 折", "GIFT01",
                                 "https://example.com/promo", locale),
        "promotion_plain": b.promotion("本周新品上架：机械键盘", "KB01", None, locale),
    }


def all_samples() -> dict[str, Card]:
    out: dict[str, Card] = {}
    for locale in ("zh", "en"):
        for name, card in _per_locale(locale).items():
            out[f"{name}.{locale}"] = card
    return out


SAMPLES: dict[str, Card] = all_samples()
BUILDERS: dict[str, Callable[..., Card]] = {
    "balance": b.balance,
    "award_received": b.award_received,
    "approval_request": b.approval_request,
    "approval_decided": b.approval_decided,
    "redemption_confirm": b.redemption_confirm,
    "order_status": b.order_status,
    "expiry_reminder": b.expiry_reminder,
    "promotion": b.promotion,
}
