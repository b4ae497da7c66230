"""Configuration, built once from the environment (``MINHU_`` prefix, ``__`` for nesting)."""

from __future__ import annotations

import base64
import re
from pathlib import Path
from typing import Literal, Self

from pydantic import BaseModel, Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

PLACEHOLDERS = frozenset({"", "changeme", "change-me", "placeholder", "secret", "test", "xxx"})


def _is_placeholder(value: SecretStr | None) -> bool:
    return value is not None and value.get_secret_value().strip().lower() in PLACEHOLDERS


class RasaSettings(BaseModel):
    """Delegate parsing to an external Rasa server (``/model/parse``)."""

    url: str
    token: SecretStr | None = None
    timeout_seconds: float = 3.0


class WeChatSettings(BaseModel):
    """A WeChat official account. The channel is on iff ``MINHU_WECHAT__APP_ID`` is set.

    Template field mappings map a template's field names to Python format strings over the
    message's fields (``{number}``, ``{category}``, ``{status_text}``, ``{location}``,
    ``{description}``, ``{text}``, ``{title}``, ``{time}``, ``{options}`` ...); a precision
    truncates, e.g. ``{description:.20}`` for a ``thing`` field of at most 20 characters.
    """

    app_id: str = Field(min_length=1, max_length=64)
    secret: SecretStr
    token: SecretStr  # the URL token set in the official-account console
    aes_key: SecretStr | None = None  # EncodingAESKey (43 characters); absent → plaintext mode
    account_id: str = ""  # the original id (gh_…); when set, ToUserName must match it
    reply_mode: Literal["passive", "push"] = "passive"
    passive_budget_seconds: float = Field(default=4.0, gt=0, lt=5)  # WeChat waits 5 s
    # per process: messages processed at once, and how many may wait for a slot before new
    # ones get the holding reply at once (persisted first, the answer pushed when it is ready)
    max_concurrent: int = Field(default=16, ge=1)
    admission_queue: int = Field(default=48, ge=0)
    api_base: str = "https://api.weixin.qq.com"
    api_timeout_seconds: float = Field(default=5.0, gt=0)
    template_progress: str = ""  # template id for resident updates after the 48-hour window
    template_task: str = ""  # template id for worker task cards (and worker notices after 48 h)
    template_progress_fields: dict[str, str] = Field(
        default_factory=lambda: {
            "first": "{title}",
            "keyword1": "{number}",
            "keyword2": "{status_text}",
            "keyword3": "{time}",
            "remark": "{options}",
        }
    )
    template_task_fields: dict[str, str] = Field(
        default_factory=lambda: {
            "first": "{title}",
            "keyword1": "{number}",
            "keyword2": "{category}",
            "keyword3": "{location}",
            "keyword4": "{description:.60}",
            "keyword5": "{time}",
            "remark": "{options}",
        }
    )
    max_body_bytes: int = Field(default=64 * 1024, ge=1024)
    max_media_bytes: int = Field(default=10 * 1024 * 1024, ge=1024)
    max_clock_skew_seconds: int = Field(default=300, ge=10)

    @field_validator("aes_key")
    @classmethod
    def _aes_key_shape(cls, value: SecretStr | None) -> SecretStr | None:
        if value is None or value.get_secret_value() == "":
            return None
        key = value.get_secret_value()
        try:
            raw = base64.b64decode(key + "=", validate=True)
        except ValueError:
            raw = b""
        if len(key) != 43 or len(raw) != 32:
            raise ValueError("the EncodingAESKey must be the 43 characters the console shows")
        return value

    @field_validator("api_base")
    @classmethod
    def _no_trailing_slash(cls, value: str) -> str:
        return value.rstrip("/")


class WeComSettings(BaseModel):
    """WeCom (企业微信) application messages to grid workers; on iff ``MINHU_WECOM__CORP_ID``."""

    corp_id: str = Field(min_length=1, max_length=64)
    agent_id: int
    secret: SecretStr  # the application's Secret
    api_base: str = "https://qyapi.weixin.qq.com"
    timeout_seconds: float = Field(default=5.0, gt=0)


class SmsSettings(BaseModel):
    """Text messages to residents who reported by phone or at the counter, through an
    SMS gateway speaking Alibaba Cloud's Dysms ``SendSms`` API (RPC style, HMAC-SHA1 signed).
    On iff ``MINHU_SMS__ACCESS_KEY_ID`` is set."""

    access_key_id: str = Field(min_length=1, max_length=64)
    access_key_secret: SecretStr
    sign_name: str = Field(default="民呼", min_length=1, max_length=40)  # 短信签名
    template_code: str = Field(min_length=1, max_length=40)  # e.g. SMS_123456789
    template_param: str = Field(default="content", min_length=1, max_length=40)
    endpoint: str = "https://dysmsapi.aliyuncs.com/"
    max_chars: int = Field(default=300, ge=20, le=500)
    timeout_seconds: float = Field(default=5.0, gt=0)


class TelegramSettings(BaseModel):
    """A Telegram bot. The channel is on iff ``MINHU_TELEGRAM__TOKEN`` is set.

    Without ``webhook_secret`` the webhook refuses every request (use ``minhu telegram poll``).
    """

    token: SecretStr
    webhook_secret: SecretStr | None = None
    api_base: str = "https://api.telegram.org"
    bot_username: str = ""  # for t.me links; asked from the Bot API (getMe) when empty
    request_timeout_seconds: float = Field(default=10.0, gt=0)
    # Telegram: about 1 message per second per chat, about 30 per second overall
    messages_per_second: int = Field(default=30, ge=1, le=30)
    chat_interval_seconds: int = Field(default=1, ge=0)  # 0 only against a local fake API
    poll_timeout_seconds: int = Field(default=25, ge=0, le=50)
    card_sync_seconds: float = Field(default=5.0, gt=0)
    max_photo_bytes: int = Field(default=5 * 1024 * 1024, ge=1024)

    @field_validator("token")
    @classmethod
    def _token_shape(cls, value: SecretStr) -> SecretStr:
        # BotFather tokens are "<bot id>:<secret>"; say so at start, not at the first send
        if not re.fullmatch(r"\d+:[A-Za-z0-9_-]+", value.get_secret_value()):
            raise ValueError("MINHU_TELEGRAM__TOKEN is not a bot token (<digits>:<secret>)")
        return value


class City12345Settings(BaseModel):
    """The city's 12345 hotline: where the street's hand-offs are POSTed, and the shared secret
    both directions are signed with (HMAC-SHA256). On iff ``MINHU_CITY12345__URL`` is set;
    without it a hand-off is recorded and waits for export (JSON/CSV) and manual entry."""

    url: str = Field(min_length=1, max_length=500)
    secret: SecretStr
    timeout_seconds: float = Field(default=10.0, gt=0)
    # a callback whose timestamp is further off than this is refused (replays)
    callback_window_seconds: int = Field(default=300, ge=10)


# --- ticket lifecycle (issue 7): SLA clocks, duplicates, Open311 ------------------------------


class SlaTargetSettings(BaseModel):
    """One priority's targets; a field left unset keeps the default for that priority."""

    accept_minutes: float | None = Field(default=None, gt=0)
    resolve_hours: float | None = Field(default=None, gt=0)


class SlaSettings(BaseModel):
    """SLA clocks (``MINHU_SLA__…``).

    Per priority: ``MINHU_SLA__NORMAL__ACCEPT_MINUTES=60``. Per category and priority, JSON:
    ``MINHU_SLA__CATEGORIES='{"elevator": {"high": {"accept_minutes": 15}}}'``. Working hours
    are per community (``Community.settings["working_hours"]``, see handlers/sla.py).
    """

    urgent: SlaTargetSettings = Field(default_factory=SlaTargetSettings)  # 10 min / 24 h
    high: SlaTargetSettings = Field(default_factory=SlaTargetSettings)  # 30 min / 48 h
    normal: SlaTargetSettings = Field(default_factory=SlaTargetSettings)  # 2 h / 3 days
    low: SlaTargetSettings = Field(default_factory=SlaTargetSettings)  # 4 h / 5 days
    categories: dict[str, dict[str, SlaTargetSettings]] = Field(default_factory=dict)
    remind_at: float = Field(default=0.8, ge=0, lt=1)  # 0 turns reminders off
    rating_timeout_hours: float = Field(default=72, gt=0)
    overdue_step_hours: float = Field(default=24, gt=0)
    always_on: list[str] = Field(default_factory=lambda: ["urgent"])  # ignore working hours
    # the grid worker calls the resident back within this after every report (0: no promise)
    callback_minutes: float = Field(default=10.0, ge=0)
    enabled: bool = True  # run the sweeper in this process
    sweep_seconds: float = Field(default=5.0, gt=0)
    batch: int = Field(default=100, ge=1)
    lease_seconds: float = Field(default=60.0, gt=0)


class DuplicateSettings(BaseModel):
    """Same problem, same building (or within a radius): offer to follow the open ticket."""

    enabled: bool = True
    radius_m: dict[str, float] = Field(
        default_factory=lambda: {
            "parking": 50.0,
            "sanitation": 30.0,
            "safety": 30.0,
            "illegal_construction": 30.0,
        }
    )
    exclude: list[str] = Field(default_factory=lambda: ["dispute", "other"])


class HotspotSettings(BaseModel):
    """Hotspots (``MINHU_HOTSPOTS__…``): this many reports of one problem in one building
    (or within ``radius_m``) within ``building_hours``, or in one grid within ``grid_hours``,
    alert the grid leader and community staff. A count of 0 turns that rule off."""

    enabled: bool = True
    building_count: int = Field(default=3, ge=0)
    building_hours: float = Field(default=24.0, gt=0)
    grid_count: int = Field(default=5, ge=0)
    grid_hours: float = Field(default=2.0, gt=0)
    radius_m: float = Field(default=50.0, ge=0)
    similarity: float = Field(default=0.3, gt=0, le=1)  # for the catch-all category "other"


class Open311Settings(BaseModel):
    """The Open311 GeoReport v2 read API at /open311/v2 (on by default; it is public)."""

    enabled: bool = True
    jurisdiction_id: str = ""
    withhold_description: list[str] = Field(default_factory=lambda: ["dispute"])


class RateLimitSettings(BaseModel):
    """Token buckets (``MINHU_RATE_LIMITS__…``): per identity and per client address, as
    "so many per minute" refill and a burst. Redis-backed when Redis is configured."""

    enabled: bool = True
    messages_per_minute: float = Field(default=30, gt=0)
    message_burst: int = Field(default=20, ge=1)
    messages_per_ip_minute: float = Field(default=120, gt=0)
    message_ip_burst: int = Field(default=60, ge=1)
    uploads_per_minute: float = Field(default=6, gt=0)
    upload_burst: int = Field(default=6, ge=1)
    uploads_per_ip_minute: float = Field(default=30, gt=0)
    upload_ip_burst: int = Field(default=20, ge=1)
    tickets_per_minute: float = Field(default=0.2, gt=0)  # 12 an hour after the burst
    ticket_burst: int = Field(default=3, ge=1)
    tickets_per_ip_minute: float = Field(default=2, gt=0)
    ticket_ip_burst: int = Field(default=10, ge=1)


class PrivacySettings(BaseModel):
    """Retention (``MINHU_PRIVACY__…``): inbound messages, sent messages and photos are
    anonymised after ``retention_days``; ``purge_daily`` runs it once a day in ``serve``."""

    retention_days: int = Field(default=180, ge=1)
    purge_daily: bool = True


class JobSettings(BaseModel):
    """The job queue (``MINHU_JOBS__…``, ``bot/jobqueue.py``). ``runner = "app"`` (the default,
    and what the embedded ``make run`` needs): each ``minhu serve`` process takes jobs in a
    thread of its own with its own event loop and database connections; ``"worker"``: the web
    processes only queue jobs and ``minhu worker run`` processes take them."""

    runner: Literal["app", "worker"] = "app"
    poll_seconds: float = Field(default=1.0, gt=0)  # an idle worker looks for jobs this often
    lease_seconds: float = Field(default=30.0, gt=0)  # a dead worker's job is retried after it
    wait_seconds: float = Field(default=20.0, ge=0)  # a console request waits this long for a
    # quick job's result (an import, a broadcast), then answers 202 with the job id


class AdminSettings(BaseModel):
    """The admin console (``MINHU_ADMIN__...``): sessions, lockout, limits (its "overdue" uses
    the SLA targets, ``MINHU_SLA__…``)."""

    session_hours: float = Field(default=12.0, gt=0)  # a console login lasts this long
    max_failed_logins: int = Field(default=5, ge=1)  # then the account is locked ...
    lockout_minutes: float = Field(default=15.0, gt=0)  # ... for this long
    token_days: int = Field(default=30, ge=1, le=365)  # `minhu admin token` lifetime
    max_logins_per_ip: int = Field(default=50, ge=1)  # attempts per lockout window, all names
    cookie_secure: bool | None = None  # default: on when public_base_url is https
    min_examples: int = Field(default=10, ge=1)  # fewer examples → a warning on the intent
    # a candidate model whose held-out macro-F1 is lower than the active one's by more than
    # this is refused unless forced with a reason
    activation_tolerance: float = Field(default=0.005, ge=0)
    # …and so is one whose new or changed intents score an F1 below this on their held-out
    # examples (0 turns the check off)
    intent_f1_floor: float = Field(default=0.5, ge=0, le=1)
    max_upload_bytes: int = Field(default=1024 * 1024, ge=1024)  # CSV / YAML imports
    # the map draws buildings offline; with a tile server ("https://host/{z}/{x}/{y}.png")
    # its tiles are drawn underneath
    map_tile_url: str = Field(default="", max_length=300)


class ReliabilitySettings(BaseModel):
    """Inbound recovery and outbox delivery (README "Reliability")."""

    recovery_every_seconds: float = Field(default=10.0, gt=0)
    recovery_stuck_seconds: float = Field(default=30.0, ge=0)
    recovery_max_attempts: int = Field(default=6, ge=1)
    recovery_backoff_seconds: float = Field(default=5.0, ge=0)
    # with Redis configured, messages that arrive while PostgreSQL is down wait in a Redis
    # journal (storage/journal.py); each process looks for some this often
    journal_drain_seconds: float = Field(default=1.0, gt=0)
    # a web chat message is answered within this (the holding reply once it is stored, the
    # answer pushed later) however loaded the process; turns at once per process
    web_answer_seconds: float = Field(default=8.0, gt=0)
    web_max_concurrent: int = Field(default=16, ge=1)
    # an outbox item is retried this long before it is given up as dead
    delivery_horizon_hours: float = Field(default=24.0, gt=0)
    delivery_max_backoff_seconds: float = Field(default=600.0, gt=0)
    # an urgent worker message that failed this often also goes to the worker's next channel
    urgent_fallback_after: int = Field(default=3, ge=1)


class S3Settings(BaseModel):
    """An S3-compatible object store (``MINHU_S3__…``; MinIO in docker/compose.yaml) for
    photos and trained models, shared by every replica. Unset: the ``<data_dir>/objects``
    directory holds photos and models stay in the models directory (one machine)."""

    endpoint_url: str | None = None  # http://minio:9000; None: AWS S3 itself
    bucket: str = Field(default="minhu", min_length=3, max_length=63)
    access_key: SecretStr
    secret_key: SecretStr
    region: str = "us-east-1"
    timeout_seconds: float = Field(default=10.0, gt=0)


class Settings(BaseSettings):
    """Everything Minhu reads from its environment."""

    model_config = SettingsConfigDict(
        env_prefix="MINHU_", env_nested_delimiter="__", extra="ignore", env_file=None
    )

    env: Literal["dev", "test", "prod"] = "dev"
    database_url: str = "sqlite:///var/minhu.db"
    redis_url: str | None = None
    redis_prefix: str = "minhu:"
    data_dir: Path = Path("var")
    model_dir: Path | None = None  # default: <data_dir>/models
    nlu_data: Path | None = None  # default: the packaged nlu/data
    host: str = "127.0.0.1"
    port: int = 8000
    public_base_url: str = "http://127.0.0.1:8000"
    secret_key: SecretStr = SecretStr("dev-only-secret-key-change-me-in-production")
    # a file holding the secret key (Docker/Kubernetes secrets); wins over MINHU_SECRET_KEY
    secret_key_file: Path | None = None
    conversation_ttl_seconds: int = Field(default=1800, ge=60)
    max_text: int = Field(default=2000, ge=100)
    # typed messages in a row the bot cannot make sense of before a person takes over
    stuck_handoff_after: int = Field(default=3, ge=2, le=20)
    lock_timeout_seconds: float = Field(default=15.0, gt=0)
    # arrivals are stored in batches (handlers/intake_service.py): how long a message that
    # finds nothing being written waits for others, and how many rows one INSERT holds
    intake_window_seconds: float = Field(default=0.005, ge=0, le=0.1)
    intake_max_rows: int = Field(default=64, ge=1, le=500)
    outbox_poll_seconds: float = Field(default=1.0, gt=0)
    outbox_send_timeout_seconds: float = Field(default=10.0, gt=0)
    model_watch_seconds: float = Field(default=2.0, gt=0)
    load_demo: bool = True  # load the demo community on first start (never in prod ...)
    # ... unless this is set: a public demo site. It also turns on the two-pane demo page,
    # /api/v1/demo and client-chosen web chat ids, so never set it on a real deployment.
    demo_in_prod: bool = False
    log_level: str = "INFO"
    # "json": one JSON object per line (request id, masked); "text" for a terminal; "auto":
    # json in prod, text elsewhere
    log_format: Literal["auto", "json", "text"] = "auto"
    # Prometheus's bearer token for GET /metrics; unset: /metrics is open outside prod only
    metrics_token: SecretStr | None = None
    metrics_token_file: Path | None = None  # a file holding it (a compose secret)
    rasa: RasaSettings | None = None
    s3: S3Settings | None = None
    wechat: WeChatSettings | None = None
    wecom: WeComSettings | None = None
    telegram: TelegramSettings | None = None
    sms: SmsSettings | None = None
    sla: SlaSettings = Field(default_factory=SlaSettings)
    hotspots: HotspotSettings = Field(default_factory=HotspotSettings)
    duplicates: DuplicateSettings = Field(default_factory=DuplicateSettings)
    open311: Open311Settings = Field(default_factory=Open311Settings)
    admin: AdminSettings = Field(default_factory=AdminSettings)
    rate_limits: RateLimitSettings = Field(default_factory=RateLimitSettings)
    privacy: PrivacySettings = Field(default_factory=PrivacySettings)
    jobs: JobSettings = Field(default_factory=JobSettings)
    reliability: ReliabilitySettings = Field(default_factory=ReliabilitySettings)
    city12345: City12345Settings | None = None  # the street level's hand-off to 12345

    @property
    def models_path(self) -> Path:
        return self.model_dir or self.data_dir / "models"

    @property
    def log_json(self) -> bool:
        """One JSON object per log line (``MINHU_LOG_FORMAT``; auto: in prod)."""
        return self.log_format == "json" or (self.log_format == "auto" and self.env == "prod")

    @property
    def demo_enabled(self) -> bool:
        """Demo mode: the demo page, /api/v1/demo and web chat ids chosen by the client."""
        return self.env != "prod" or self.demo_in_prod

    @property
    def loads_demo(self) -> bool:
        """Whether startup (and the Docker entrypoint) may load the demo community."""
        return self.load_demo and self.demo_enabled

    @model_validator(mode="before")
    @classmethod
    def _secret_key_from_file(cls, data: object) -> object:
        # read here so that every check below (placeholders, `minhu doctor`) sees the real key
        if isinstance(data, dict):
            path = data.get("secret_key_file")
            if path:
                try:
                    key = Path(str(path)).read_text(encoding="utf-8").strip()
                except OSError as e:
                    raise ValueError(f"MINHU_SECRET_KEY_FILE cannot be read: {e}") from e
                if not key:
                    raise ValueError("MINHU_SECRET_KEY_FILE is empty")
                data = {**data, "secret_key": key}
            token_path = data.get("metrics_token_file")
            if token_path:
                try:
                    token = Path(str(token_path)).read_text(encoding="utf-8").strip()
                except OSError as e:
                    raise ValueError(f"MINHU_METRICS_TOKEN_FILE cannot be read: {e}") from e
                if not token:
                    raise ValueError("MINHU_METRICS_TOKEN_FILE is empty")
                data = {**data, "metrics_token": token}
        return data

    @model_validator(mode="after")
    def _refuse_placeholder_secrets(self) -> Self:
        if self.env == "dev":
            return self
        problems: list[str] = []
        if self.env == "prod" and "dev-only" in self.secret_key.get_secret_value():
            problems.append("MINHU_SECRET_KEY")
        if self.wechat is not None:
            for name in ("secret", "token", "aes_key"):
                if _is_placeholder(getattr(self.wechat, name)):
                    problems.append(f"MINHU_WECHAT__{name.upper()}")
        if self.wecom is not None and _is_placeholder(self.wecom.secret):
            problems.append("MINHU_WECOM__SECRET")
        if self.city12345 is not None and _is_placeholder(self.city12345.secret):
            problems.append("MINHU_CITY12345__SECRET")
        if self.sms is not None and _is_placeholder(self.sms.access_key_secret):
            problems.append("MINHU_SMS__ACCESS_KEY_SECRET")
        if self.telegram is not None:
            for name in ("token", "webhook_secret"):
                if _is_placeholder(getattr(self.telegram, name)):
                    problems.append(f"MINHU_TELEGRAM__{name.upper()}")
        if problems:
            raise ValueError(
                "placeholder secrets are refused outside dev: set real values for "
                + ", ".join(problems)
            )
        return self
