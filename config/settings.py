"""Runtime settings (SPEC section 6): environment variables prefixed ``JIFEN_``, also read from ``.env``."""

from __future__ import annotations

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="JIFEN_", env_file=".env", extra="ignore")

    database_url: str = "sqlite+aiosqlite:///./jifen.db"
    http_host: str = "127.0.0.1"
    http_port: int = 8080
    policy_file: str = "config/policy.yaml"
    timezone: str = "Asia/Shanghai"

    wecom_corp_id: str | None = None
    wecom_agent_id: str | None = None
    wecom_secret: SecretStr | None = None
    wecom_token: SecretStr | None = None
    wecom_aes_key: SecretStr | None = None
    wecom_api_base: str = "https://qyapi.weixin.qq.com/cgi-bin/"
    wecom_contact_secret: SecretStr | None = None  # 通讯录同步 secret; else the app secret

    dingtalk_client_id: str | None = None
    dingtalk_client_secret: SecretStr | None = None
    dingtalk_robot_code: str | None = None
    dingtalk_mode: str = Field(default="stream", pattern="^(stream|http)$")
    dingtalk_api_base: str = "https://api.dingtalk.com"
    dingtalk_card_template_id: str | None = None
    dingtalk_oapi_base: str = "https://oapi.dingtalk.com"

    directory_sync: str = Field(default="off", pattern="^(off|wecom|dingtalk)$")

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
