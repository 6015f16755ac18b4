"""Cards of SPEC section 13: +1 buttons (with their text fallbacks), the digest, notices."""

from __future__ import annotations

from cards import builders
from cards.actions import JoinAward, unpack
from cards.recognition import DigestView, Joinable, award_revoked, join_buttons, weekly_digest
from cards.render_text import render_plain


def test_join_buttons_carry_the_command_and_a_packed_payload() -> None:
    buttons = join_buttons("zh", [Joinable(f"Z{i}", f"人{i}") for i in range(1, 7)])
    assert len(buttons) == 4  # a card holds four
    assert (buttons[0].text, buttons[0].fallback, buttons[0].action) == ("+1 人1", "+1 Z1", "p1:Z1")
    assert unpack("p1:Z12") == JoinAward("Z12")


def test_weekly_digest_card_lists_every_board_and_prints_plus_one() -> None:
    view = DigestView("2026-03-09", "2026-03-15", receivers=[(1, "刘洋", "研发部", 35)],
                      givers=[(1, "王伟", "研发部", 25)], values=[("团队合作", 3)],
                      joined=[("Z7", "王伟", "刘洋", "上线支持", 2)])
    card = weekly_digest(view, "zh")
    text = render_plain(card)
    for expected in ("本周积分公示 2026-03-09 ~ 2026-03-15", "获赞榜", "1. 刘洋（研发部）35 分",
                     "1. 王伟（研发部）送出 25 分", "#团队合作 3 次", "Z7 王伟 → 刘洋：上线支持（2 人 +1）",
                     "+1 Z7"):
        assert expected in text, expected
    empty = weekly_digest(DigestView("2026-03-16", "2026-03-22", [], [], [], []), "en")
    assert empty.lines == ["No awards last week: thank a colleague!"] and not empty.buttons


def test_balance_shows_the_per_report_share_and_appeals_have_a_title() -> None:
    card = builders.balance(100, 380, 0, None, "zh", reports=4, per_report=20)
    assert ("本月可赠", "380 分（含下属加成 4 人 × 20 分）") in card.fields
    assert ("To give", "380 pts") in builders.balance(100, 380, 0, None, "en").fields
    assert builders.approval_request("A3", "appeal", "刘洋", 30, "T9 出差", "zh").title == "申诉待审批"
    revoked = award_revoked("Z3", 40, 15, "重复发放", "刘洋", "zh", for_giver=True)
    assert revoked.lines[0].startswith("你送给 刘洋 的点赞已被撤销")


def test_award_card_names_the_givers_department_only_when_given() -> None:
    shared = builders.award_received("王伟", 10, "谢谢", "zh", giver_department="研发部")
    assert shared.lines[0] == "王伟（研发部） 给你点了赞：谢谢"
    assert ("来自", "王伟（研发部）") in shared.fields
    english = builders.award_received("王伟", 10, "thanks", "en", giver_department="研发部")
    assert english.lines[0] == "王伟 (研发部) thanked you: thanks"
    assert builders.award_received("刘洋", 10, "谢谢", "zh").lines[0] == "刘洋 给你点了赞：谢谢"
