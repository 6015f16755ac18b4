"""Runtime settings (SPEC section 6): environment variables prefixed ``JIFEN_``, also read from ``.env``."""

from __future__ import annotations

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="JIFEN_", env_file=".env", extra="ignore")

    database_url: str = "sqlite+aiosqlite:///./jifen.db"
    http_host: str = "127.0.0.1"
    http_port: int = 8080
    # serving processes on the port (bot.app.workers): one uses one core, whatever the host has
    workers: int = Field(default=1, ge=1, le=64)
    policy_file: str = "config/policy.yaml"
    timezone: str = "Asia/Shanghai"

    wecom_corp_id: str | None = None
    wecom_agent_id: str | None = None
    wecom_secret: SecretStr | None = None
    wecom_token: SecretStr | None = None
    wecom_aes_key: SecretStr | None = None
    wecom_api_base: str = "https://qyapi.weixin.qq.com/cgi-bin/"
    wecom_contact_secret: SecretStr | None = None  # 通讯录同步 secret; else the app secret
    # the employee mall's sign-in inside WeCom (OAuth snsapi_base, SPEC section 10)
    wecom_oauth_base: str = "https://open.weixin.qq.com"

    dingtalk_client_id: str | None = None
    dingtalk_client_secret: SecretStr | None = None
    dingtalk_robot_code: str | None = None
    dingtalk_mode: str = Field(default="stream", pattern="^(stream|http)$")
    dingtalk_api_base: str = "https://api.dingtalk.com"
    dingtalk_card_template_id: str | None = None
    dingtalk_oapi_base: str = "https://oapi.dingtalk.com"

    # the inbox (README "Reliability"): how long a process owns an event before another replica
    # (or this one after a restart) takes it over, and how many failed attempts before the
    # user gets an apology
    inbox_lease_seconds: float = Field(default=60.0, gt=0)
    inbox_max_attempts: int = Field(default=5, ge=1)

    directory_sync: str = Field(default="off", pattern="^(off|wecom|dingtalk)$")
    # for dd.runtime.permission.requestAuthCode in the mall (else the page's ?corpId=$CORPID$)
    dingtalk_corp_id: str | None = None

    playground: bool | None = None
    admin_token: SecretStr | None = None
    # SPEC section 10: the base of every link jifen sends (default http://<host>:<port>), and the
    # key that signs sessions and sign-in links (unset: generated once, kept in the database)
    public_url: str | None = None
    secret_key: SecretStr | None = None

    @property
    def wecom_enabled(self) -> bool:
        return all(
            (self.wecom_corp_id, self.wecom_agent_id, self.wecom_secret, self.wecom_token,
             self.wecom_aes_key)
        )

    @property
    def dingtalk_enabled(self) -> bool:
        return bool(self.dingtalk_client_id and self.dingtalk_client_secret)

    @property
    def playground_enabled(self) -> bool:
        if self.playground is not None:
            return self.playground
        return not (self.wecom_enabled or self.dingtalk_enabled)
