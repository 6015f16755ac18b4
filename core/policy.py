"""The points rules of SPEC section 3 as a validated model (loaded from ``config/policy.yaml``)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

Role = Literal["employee", "manager", "hr", "admin"]
StepRole = Literal["manager", "hr", "admin"]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ExpiryPolicy(_Strict):
    mode: Literal["rolling_months", "fixed_date"] = "rolling_months"
    months: int = Field(default=12, ge=1, le=120)
    fixed_date: str = Field(default="12-31", pattern=r"^(0[1-9]|1[0-2])-(0[1-9]|[12]\d|3[01])$")
    refund_lot_days: int = Field(default=30, ge=1)


class AllowancePolicy(_Strict):
    monthly: int = Field(default=100, ge=0)
    by_role: dict[str, int] = Field(default_factory=lambda: {"manager": 300})
    per_report: int = Field(default=0, ge=0)  # added per active direct report, on top of by_role


class AwardPolicy(_Strict):
    approval_threshold: int = Field(default=50, ge=0)
    hr_threshold: int = Field(default=200, ge=0)
    min_reason_length: int = Field(default=4, ge=0)
    max_per_pair_per_day: int = Field(default=2, ge=1)
    require_value: bool = False
    values: list[str] = Field(default_factory=list)
    undo_minutes: int = Field(default=10, ge=0)  # 撤回 window; 0 turns undo off


class ApprovalChains(_Strict):
    award: list[StepRole] = Field(default=["manager"], min_length=1)
    award_large: list[StepRole] = Field(default=["manager", "hr"], min_length=1)
    application: list[StepRole] = Field(default=["manager"], min_length=1)
    redemption: list[StepRole] = Field(default=["manager"], min_length=1)
    appeal: list[StepRole] = Field(default=["hr"], min_length=1)


class ApprovalPolicy(_Strict):
    remind_after_hours: int = Field(default=24, ge=1)
    escalate_after_hours: int = Field(default=72, ge=1)
    chains: ApprovalChains = Field(default_factory=ApprovalChains)


class RedemptionPolicy(_Strict):
    confirm_minutes: int = Field(default=10, ge=1)


class ReminderPolicy(_Strict):
    expiry_days: list[int] = Field(default_factory=lambda: [30, 7, 1])

    @field_validator("expiry_days")
    @classmethod
    def _positive_unique(cls, v: list[int]) -> list[int]:
        if any(d <= 0 for d in v) or len(set(v)) != len(v):
            raise ValueError("must be distinct positive day counts")
        return sorted(v, reverse=True)


class RetentionPolicy(_Strict):
    """How long idempotency records and delivered outbox rows are kept (the daily retention job).
    At least a week: far beyond any platform's redelivery window (WeCom retries within seconds,
    DingTalk within its 1 h signature window), so a pruned key can never be needed by a retry."""

    days: int = Field(default=90, ge=7)


class GrantRule(_Strict):
    """An automatic grant (规则引擎). ``recurring`` rules fire on ``day`` of every month."""

    name: str = Field(pattern=r"^[\w-]+$")
    kind: Literal["birthday", "anniversary", "new_hire", "recurring"]
    points: int = Field(gt=0)
    reason: str = ""
    roles: list[str] = Field(default_factory=list)
    departments: list[str] = Field(default_factory=list)
    day: int = Field(default=1, ge=1, le=28)


class BroadcastTarget(_Strict):
    name: str
    # playground: the local demo's group, seen by everyone who opens the playground
    platform: Literal["wecom", "dingtalk", "playground"]
    kind: Literal["webhook", "appchat", "group"]
    url: str | None = None
    chatid: str | None = None
    open_conversation_id: str | None = None
    secret: str | None = None

    @model_validator(mode="after")
    def _has_address(self) -> BroadcastTarget:
        if self.platform == "playground":
            return self
        need = {"webhook": "url", "appchat": "chatid", "group": "open_conversation_id"}[self.kind]
        if not getattr(self, need):
            raise ValueError(f"kind {self.kind} needs {need}")
        return self


class BroadcastPolicy(_Strict):
    targets: list[BroadcastTarget] = Field(default_factory=list)


class DirectoryPolicy(_Strict):
    """Directory sync (SPEC section 12)."""

    leaver_balance: Literal["keep", "expire"] = "keep"
    max_deactivate_percent: float = Field(default=10, ge=0, le=100)


_CRON_FIELD = r"[\w*/,-]+"


class DigestPolicy(_Strict):
    """The weekly 公示: broadcast target names and a five-field crontab in the policy timezone."""

    targets: list[str] = Field(default_factory=list)
    cron: str = Field(default="30 9 * * mon", pattern=rf"^\s*{_CRON_FIELD}(\s+{_CRON_FIELD}){{4}}\s*$")
    top: int = Field(default=5, ge=1, le=20)


class Policy(_Strict):
    timezone: str = "Asia/Shanghai"
    expiry: ExpiryPolicy = Field(default_factory=ExpiryPolicy)
    allowance: AllowancePolicy = Field(default_factory=AllowancePolicy)
    award: AwardPolicy = Field(default_factory=AwardPolicy)
    approvals: ApprovalPolicy = Field(default_factory=ApprovalPolicy)
    redemption: RedemptionPolicy = Field(default_factory=RedemptionPolicy)
    reminders: ReminderPolicy = Field(default_factory=ReminderPolicy)
    rules: list[GrantRule] = Field(default_factory=list)
    broadcast: BroadcastPolicy = Field(default_factory=BroadcastPolicy)
    digest: DigestPolicy = Field(default_factory=DigestPolicy)
    retention: RetentionPolicy = Field(default_factory=RetentionPolicy)
    directory: DirectoryPolicy = Field(default_factory=DirectoryPolicy)

    @model_validator(mode="after")
    def _unique_rule_names(self) -> Policy:
        names = [r.name for r in self.rules]
        if len(names) != len(set(names)):
            raise ValueError("rule names must be unique")
        return self

    @model_validator(mode="after")
    def _digest_targets_exist(self) -> Policy:
        known = {t.name for t in self.broadcast.targets}
        unknown = [name for name in self.digest.targets if name not in known]
        if unknown:
            raise ValueError(f"digest.targets not in broadcast.targets: {', '.join(unknown)}")
        return self
