"""The one configuration mechanism: environment variables prefixed ``CITYSOC_``.

No other module reads ``os.environ``; entry points build a :class:`Settings` and pass
it (or the values they need) down.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from citysoc.core.errors import ConfigError

PLACEHOLDER_SECRET = "development-only-secret-change-me"  # noqa: S105 - refused in production
BUNDLED_TOPOLOGY = Path(__file__).with_name("cities") / "hcmc.yml"


NotifyKind = Literal["alert", "case"]  # new alerts at the set severity; changes of cases
# The language a recipient is told in; Vietnamese unless set, as the console speaks by default
NotifyLanguage = Literal["vi", "en"]


class WebhookTarget(BaseModel):
    """A URL told of each item with an HMAC-SHA256-signed JSON POST. ``agency`` empty: a city
    SOC target, told of every agency's items; set: only that agency's."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    url: str = Field(pattern=r"^https?://[^\s]+$", max_length=256)
    secret: SecretStr = Field(min_length=16, description="Key of the X-Citysoc-Signature HMAC.")
    agency: str | None = Field(default=None, max_length=32)
    events: tuple[NotifyKind, ...] = ("alert", "case")
    language: NotifyLanguage = "vi"


class EmailRecipient(BaseModel):
    """An address mailed each item (``agency`` as for :class:`WebhookTarget`)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    address: str = Field(pattern=r"^[^@\s<>,;]+@[^@\s<>,;]+$", max_length=254)
    agency: str | None = Field(default=None, max_length=32)
    events: tuple[NotifyKind, ...] = ("alert", "case")
    language: NotifyLanguage = "vi"


class Settings(BaseSettings):
    """Everything an operator can set, with safe defaults for the embedded mode."""

    model_config = SettingsConfigDict(env_prefix="CITYSOC_", extra="ignore", frozen=True)

    env: Literal["development", "production"] = "development"
    data_dir: Path = Field(default=Path("var"), description="Where SQLite files live.")
    topology_path: Path = Field(default=BUNDLED_TOPOLOGY, description="The city topology YAML.")
    state_url: str = Field(
        default="", description="SQLAlchemy URL of the SOC state; SQLite in data_dir if empty."
    )
    api_host: str = "127.0.0.1"
    api_port: int = Field(default=8000, ge=0, le=65535)
    api_workers: int = Field(
        default=1,
        ge=1,
        le=64,
        description="API worker processes of `citysoc serve`; above 1, the detection schedule, "
        "audit seals, scheduled reports and notification deliveries run in one process of "
        "their own beside them.",
    )
    secret_key: SecretStr = SecretStr(PLACEHOLDER_SECRET)
    detection_interval_seconds: float = Field(default=5.0, gt=0)
    suppression_window_seconds: int = Field(
        default=3600, ge=0, description="An alert absorbs repeats of its rule and entity."
    )
    log_level: str = "INFO"
    log_format: Literal["text", "json"] = "text"
    default_agency: str = Field(
        default="dic", description="Agency of events whose addresses are outside the topology."
    )
    demo_password: SecretStr | None = None
    ingest_max_bytes: int = Field(
        default=16 * 1024 * 1024, ge=1024, description="Largest NDJSON body /api/v1/ingest takes."
    )
    ingest_rate_per_second: float = Field(
        default=20.0, gt=0, description="Ingest calls per second per token (burst: 5 s worth)."
    )
    login_attempts_per_minute: float = Field(
        default=10.0,
        gt=0,
        description="Console login attempts per minute per client address and per account.",
    )
    audit_seal_interval_seconds: float = Field(
        default=300.0,
        gt=0,
        description="How often the SOC API seals the audit chain's head into a signed "
        "checkpoint (audit-checkpoints.jsonl in data_dir).",
    )
    compliance_schedule_seconds: float = Field(
        default=3600.0,
        ge=0,
        description="How often the SOC API looks for compliance reports of the last ended "
        "half-year not yet made, and makes them (under data_dir/compliance); 0 turns it off.",
    )
    trusted_proxies: str = Field(
        default="",
        description="Comma-separated addresses or CIDRs of reverse proxies whose "
        "X-Forwarded-For is believed; empty (the default): the peer address is the client.",
    )
    incident_window_seconds: int = Field(
        default=86400, ge=60, description="Alerts sharing an entity within this join one incident."
    )
    # Notifications: webhooks and e-mail, per agency (JSON lists in the environment).
    notify_webhooks: tuple[WebhookTarget, ...] = Field(
        default=(),
        description='JSON list, e.g. [{"url": "https://hooks.d1.example/soc", "secret": "...", '
        '"agency": "d1"}]; without agency: told of every agency\'s items.',
    )
    notify_emails: tuple[EmailRecipient, ...] = Field(
        default=(),
        description='JSON list, e.g. [{"address": "soc@d1.example", "agency": "d1", '
        '"language": "en"}]; language vi (the default) or en.',
    )
    notify_alert_severity: Literal["informational", "low", "medium", "high", "critical"] = Field(
        default="critical", description="New alerts at this severity or above are notified."
    )
    notify_attempts: int = Field(default=5, ge=1, le=20, description="Tries per delivery.")
    notify_backoff_seconds: float = Field(
        default=5.0, gt=0, description="Wait before the first retry; doubled after each failure."
    )
    notify_timeout_seconds: float = Field(default=10.0, gt=0, le=120)
    notify_interval_seconds: float = Field(
        default=5.0, gt=0, description="How often the SOC API looks for items to deliver."
    )
    smtp_host: str = Field(default="", description="SMTP relay for e-mail; empty: no e-mail.")
    smtp_port: int = Field(default=25, ge=1, le=65535)
    smtp_starttls: bool = Field(default=False, description="Upgrade the SMTP session to TLS.")
    smtp_ca_file: Path | None = Field(
        default=None, description="CA that signed the relay's certificate (else the system's)."
    )
    smtp_username: str | None = None
    smtp_password: SecretStr | None = None
    smtp_sender: str = Field(default="citysoc@localhost", max_length=254)
    # The event store: one setting for every program (collectors, SOC API, detections).
    event_store: str = Field(
        default="",
        description="sqlite:///PATH, opensearch+https://HOST:PORT[,HOST:PORT] or "
        "elasticsearch+https://...; empty: SQLite in data_dir.",
    )
    event_store_username: str | None = None
    event_store_password: SecretStr | None = None
    event_store_api_key: SecretStr | None = None
    event_store_ca_file: Path | None = Field(
        default=None, description="CA certificate that signed the engine's TLS certificate."
    )
    detection_settle_seconds: float = Field(
        default=3.0,
        ge=0,
        description="Engine store: how long after ingest an event is surely searchable.",
    )
    # Collectors: where `citysoc collect` ships, and its disk buffer.
    collector_sink: Literal["store", "api"] = Field(
        default="store", description="Sink of `citysoc collect` unless --sink is given."
    )
    ingest_url: str = Field(
        default="", description="SOC API base URL for the api sink (POST /api/v1/ingest)."
    )
    collector_token: SecretStr | None = Field(
        default=None, description="Bearer token the api sink presents to the SOC API."
    )
    buffer_max_bytes: int = Field(default=256 * 1024 * 1024, gt=0)
    buffer_policy: Literal["block", "drop-oldest"] = "block"
    native_cache_dir: Path = Field(
        default=Path.home() / ".cache" / "citysoc" / "native",
        description="Compiled hot-path modules kept per source version, so a fresh clone "
        "restores them instead of compiling (citysoc native).",
    )
    release_public_key: Path | None = Field(
        default=None,
        description="Ed25519 public key (PEM) the SOC API verifies recorded gate decisions "
        "with; empty: the public half of CITYSOC_RELEASE_SIGNING_KEY.",
    )
    release_signing_key: Path | None = Field(
        default=None,
        description="Ed25519 private key (PEM) that signs the release gate's decisions "
        "(citysoc release keygen makes one).",
    )
    debug_memory_seconds: float = Field(
        default=0.0,
        ge=0,
        description="Debugging: every N seconds (and on SIGUSR1) the SOC API writes a memory "
        "report to data_dir/debug/ (resident memory, malloc and SQLite totals, objects by type, "
        "tracemalloc's growing allocators); 0: off.",
    )
    debug_tracemalloc_frames: int = Field(
        default=10,
        ge=0,
        le=100,
        description="Frames tracemalloc keeps per allocation in the memory report; 0: no "
        "tracemalloc (it slows the process).",
    )
    test_elastic_url: str = Field(
        default="", description="Elasticsearch for live tests (CITYSOC_TEST_ELASTIC_URL)."
    )
    test_engine_url: str = Field(
        default="",
        description="A running engine for live tests (CITYSOC_TEST_ENGINE_URL, e.g. "
        "opensearch+http://127.0.0.1:9250); empty: the tests start their own.",
    )

    @model_validator(mode="after")
    def _refuse_placeholder_secrets(self) -> Settings:
        if self.env == "production" and self.secret_key.get_secret_value() == PLACEHOLDER_SECRET:
            raise ConfigError(
                "CITYSOC_SECRET_KEY still holds the development placeholder; "
                "set a random value of at least 32 characters in production"
            )
        if self.env == "production" and len(self.secret_key.get_secret_value()) < 32:
            raise ConfigError("CITYSOC_SECRET_KEY must be at least 32 characters in production")
        if self.env == "production" and self.smtp_password and not self.smtp_starttls:
            raise ConfigError(
                "CITYSOC_SMTP_PASSWORD without CITYSOC_SMTP_STARTTLS=true would cross the "
                "network in clear; turn STARTTLS on in production"
            )
        return self

    @property
    def event_store_path(self) -> Path:
        """The SQLite event store's file (``CITYSOC_EVENT_STORE=sqlite:///PATH``, or in
        data_dir)."""
        if self.event_store.startswith("sqlite:///"):
            return Path(self.event_store.removeprefix("sqlite:///"))
        return self.data_dir / "events.db"

    @property
    def dead_letter_dir(self) -> Path:
        return self.data_dir / "deadletter"

    @property
    def resolved_state_url(self) -> str:
        return self.state_url or f"sqlite:///{self.data_dir / 'soc.db'}"


def explain_settings_error(exc: ValidationError) -> str:
    """One line per refused setting, named as the environment names it."""
    parts = []
    for error in exc.errors(include_url=False):
        name = "CITYSOC_" + "_".join(str(part) for part in error["loc"]).upper()
        given = error.get("input")
        secret = any(word in name for word in ("SECRET", "PASSWORD", "KEY", "TOKEN"))
        shown = f"={given!r}" if isinstance(given, str | int | float) and not secret else ""
        parts.append(f"{name}{shown}: {error['msg']}")
    return "; ".join(parts) or str(exc)
