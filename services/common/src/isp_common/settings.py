"""Settings shared by every service (pydantic-settings).

Defaults run on a laptop against the embedded broker; production overrides them
through the environment. One naming rule for every setting:

- shared settings are read from ``ISP_<NAME>`` (``ISP_KAFKA_BOOTSTRAP``);
- a service's own settings, its port and database URL included, from
  ``ISP_<SERVICE>_<NAME>`` (``ISP_REFERRALS_PORT``).

A service's ``settings.py`` subclasses :class:`ServiceSettings` with
``model_config = service_config("referrals")`` and declares its own fields plainly;
every field may also be passed by name in code and tests.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from pydantic import AliasChoices, Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

if TYPE_CHECKING:
    from .workingdays import WorkingCalendar

EMBEDDED_PARTNERSHIP_KEY = "embedded-partnership-key-change-me"
PUBLIC_SECRETS = frozenset(
    {EMBEDDED_PARTNERSHIP_KEY, "change-me-partnership-key", "replace-with-a-secret-of-at-least-32-characters"}
)
"""Secrets printed in this repository (code, compose): never good enough for production."""
MIN_SECRET_CHARS = 32
SUPERUSERS = frozenset({"postgres", "root"})


def make_url_user(url: str) -> str | None:
    """The user name in a database URL, if it has one."""
    from sqlalchemy.engine import make_url

    try:
        return make_url(url).username
    except Exception:  # noqa: BLE001 - an unparsable URL fails later, where it is used
        return None


def service_config(service: str) -> SettingsConfigDict:
    """The settings config of one service: its own fields under ``ISP_<SERVICE>_``."""
    return SettingsConfigDict(env_prefix=f"ISP_{service.upper()}_", extra="ignore", populate_by_name=True)


def _shared(name: str) -> AliasChoices:
    """A shared setting keeps its ``ISP_<NAME>`` variable whatever the service's prefix."""
    return AliasChoices(f"ISP_{name.upper()}", name)


OFF_THE_ALERT_PATH_FETCH_WAIT_MS = 500
"""How long the consumer of a service no alert passes through on its way to its recipient (audit,
register, gateway) lets the broker hold an empty fetch. Every consumer's empty fetch costs the broker
CPU whether anything comes or not: with these three at 500 ms instead of 50 the suite idle used 0.14
cores against 0.21 (the broker 0.06 against 0.10; docs/perf/throughput-notes.md, eleventh session)."""


def off_the_alert_path_fetch_wait() -> Any:
    """The ``consumer_fetch_max_wait_ms`` field of a service off the alert's path: its own variable
    (``ISP_<SERVICE>_CONSUMER_FETCH_MAX_WAIT_MS``), not the shared one, which sets the alert's hops."""
    return Field(
        OFF_THE_ALERT_PATH_FETCH_WAIT_MS,
        ge=1,
        description="Longest this service's consumer lets the broker hold a fetch that brings nothing. No alert "
        "waits on it, so it polls the broker less often than the services on the alert's path.",
    )


class ServiceSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="ISP_", extra="ignore", populate_by_name=True)

    service_name: str = "isp"
    port: int = 8000
    host: str = Field("127.0.0.1", validation_alias=_shared("host"))
    database_url: str = ""
    migration_database_url: str = Field(
        "",
        description="PostgreSQL: the database owner's URL, used only to migrate (and install triggers) at start; "
        "the service then grants the user of database_url its declared privileges and serves as that user "
        "(isp_common.pgroles). Required in production on PostgreSQL.",
    )

    environment: Literal["embedded", "production"] = Field(
        "embedded",
        validation_alias=_shared("environment"),
        description="'embedded' allows http/loopback webhooks and a locally generated signing key.",
    )
    var_dir: Path = Field(
        Path("var"), validation_alias=_shared("var_dir"), description="Where SQLite files, keys and faust state live."
    )
    kafka_bootstrap: str = Field("127.0.0.1:9092", validation_alias=_shared("kafka_bootstrap"))
    kafka_security_protocol: Literal["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"] = Field(
        "PLAINTEXT",
        validation_alias=_shared("kafka_security_protocol"),
        description="PLAINTEXT only for the embedded broker on loopback; SASL_SSL in production.",
    )
    kafka_sasl_mechanism: Literal["SCRAM-SHA-512", "SCRAM-SHA-256", "PLAIN"] = Field(
        "SCRAM-SHA-512", validation_alias=_shared("kafka_sasl_mechanism")
    )
    kafka_sasl_username: str | None = Field(
        None, validation_alias=_shared("kafka_sasl_username"), description="This service's Kafka principal."
    )
    kafka_sasl_password: SecretStr | None = Field(None, validation_alias=_shared("kafka_sasl_password"))
    kafka_ssl_cafile: Path | None = Field(
        None, validation_alias=_shared("kafka_ssl_cafile"), description="CA bundle the brokers' certificates chain to."
    )
    kafka_ssl_certfile: Path | None = Field(
        None, validation_alias=_shared("kafka_ssl_certfile"), description="Client certificate (mutual TLS), optional."
    )
    kafka_ssl_keyfile: Path | None = Field(None, validation_alias=_shared("kafka_ssl_keyfile"))
    kafka_start_timeout: float = Field(
        60.0,
        ge=0,
        validation_alias=_shared("kafka_start_timeout"),
        description="Seconds a starting service waits for the Kafka broker to answer, asking again with "
        "back-off, before it gives up (exit code 3).",
    )
    topic_partitions: int = Field(
        6,  # the topic catalogue's DEFAULT_PARTITIONS (tested equal; not imported: it loads every schema)
        ge=1,
        validation_alias=_shared("topic_partitions"),
        description="Partitions of each topic this service or `make run` creates, but for one the topic "
        "catalogue gives its own number (the audit checkpoints: 1). Six measured best on the embedded broker "
        "(docs/perf/throughput-notes.md, thirty-second session).",
    )
    topic_replication: int = Field(1, validation_alias=_shared("topic_replication"))
    broker_rebalance_timeout: float = Field(
        5.0,
        validation_alias=_shared("broker_rebalance_timeout"),
        description="Low for the embedded broker: its JoinGroup waits this long.",
    )
    broker_session_timeout: float = Field(10.0, validation_alias=_shared("broker_session_timeout"))
    handler_attempts: int = Field(
        3, validation_alias=_shared("handler_attempts"), description="Tries before an event is dead-lettered."
    )
    handler_retry_delay: float = Field(0.2, validation_alias=_shared("handler_retry_delay"))
    consumer_batch_size: int = Field(
        200,
        ge=1,
        validation_alias=_shared("consumer_batch_size"),
        description=(
            "Most events consumed in one batch. 200 measured best (docs/perf/throughput-notes.md): "
            "500 held more memory after each batch's peak and let the next service start later."
        ),
    )
    consumer_batch_wait: float = Field(
        0.005,
        gt=0,
        validation_alias=_shared("consumer_batch_wait"),
        description="Seconds a consumer waits for more events before processing what it has.",
    )
    consumer_fetch_max_wait_ms: int = Field(
        50,
        ge=1,
        validation_alias=_shared("consumer_fetch_max_wait_ms"),
        description="Longest a consumer's fetch waits for data (the embedded broker always waits this long). "
        "The services on an alert's way to its recipient (referrals, notifications) read this; audit, register "
        "and the gateway have their own (ISP_<SERVICE>_CONSUMER_FETCH_MAX_WAIT_MS, 500).",
    )
    consumer_fetch_min_bytes: int = Field(
        32768,
        ge=1,
        validation_alias=_shared("consumer_fetch_min_bytes"),
        description=(
            "Bytes a consumer's fetch asks for before the broker answers (or the wait is up). Against 1 "
            "(answered at once), 32 KiB took 15-35 % less CPU per event at 200-500 events/s "
            "(docs/perf/throughput-notes.md)."
        ),
    )
    outbox_poll_interval: float = Field(0.2, validation_alias=_shared("outbox_poll_interval"))
    outbox_batch_size: int = Field(500, validation_alias=_shared("outbox_batch_size"))
    outbox_max_attempts: int = Field(
        10,
        ge=1,
        validation_alias=_shared("outbox_max_attempts"),
        description="Failures in a row after which the relay quarantines a row (the rest flow on).",
    )
    outbox_sent_retention_hours: float = Field(
        24.0,
        gt=0,
        validation_alias=_shared("outbox_sent_retention_hours"),
        description="Hours a published outbox row (a copy of its event, personal data and all, that the "
        "broker holds) is kept before the relay deletes it.",
    )
    outbox_prune_interval: float = Field(
        300.0, gt=0, validation_alias=_shared("outbox_prune_interval"), description="Seconds between prunings."
    )
    memory_trim_interval: float = Field(
        0.25,
        ge=0,
        validation_alias=_shared("memory_trim_interval"),
        description="Seconds between checks whether the service has gone quiet after work; the first check "
        "that finds it so gives the allocator's free memory back to the system (glibc only; 0: never). Each "
        "took 0.1-1.5 ms and gave back 1-17 MB after a burst; a check is one reading of the process's CPU time "
        "(isp_common.memory).",
    )
    timer_interval: float = Field(
        5.0, validation_alias=_shared("timer_interval"), description="How often deadline timers scan for due work."
    )

    key_dir: Path | None = Field(
        None, validation_alias=_shared("key_dir"), description="JWT signing keys (embedded default)."
    )
    event_keys_dir: Path | None = Field(
        None,
        validation_alias=_shared("event_keys_dir"),
        description="Public event-signing keys of the partnership services and the gateway, one "
        "<name>.public.jwk each (CONTRACT §10; default <keys>/events).",
    )
    event_key_file: Path | None = Field(
        None,
        description="This service's private event-signing key, a JWK (default <event keys>/<service>.jwk, made "
        "on first use in the embedded default; required, mode 0600, in production).",
    )
    jwt_jwks_url: str | None = Field(None, validation_alias=_shared("jwt_jwks_url"))
    jwt_issuer: str | None = Field(None, validation_alias=_shared("jwt_issuer"))
    jwt_audience: str | None = Field(None, validation_alias=_shared("jwt_audience"))
    jwt_leeway_seconds: int = Field(30, validation_alias=_shared("jwt_leeway_seconds"))

    otel_exporter: Literal["none", "console", "otlp"] = Field("none", validation_alias=_shared("otel_exporter"))
    otel_endpoint: str | None = Field(None, validation_alias=_shared("otel_endpoint"))

    extra_bank_holidays: list[date] = Field(default_factory=list, validation_alias=_shared("extra_bank_holidays"))
    removed_bank_holidays: list[date] = Field(default_factory=list, validation_alias=_shared("removed_bank_holidays"))
    partnership_key: str = Field(
        EMBEDDED_PARTNERSHIP_KEY,
        validation_alias=_shared("partnership_key"),
        description="HMAC key for pseudonymous person keys shared between services.",
    )
    directory_file: Path = Field(
        Path("deploy/directory.json"),
        validation_alias=_shared("directory_file"),
        description="The partnership directory's starting organisations (JSON list); a relative path is looked "
        "up in the current directory, then in the repository.",
    )

    def production_problems(self) -> list[str]:
        """Why this configuration must not serve real data (empty when it may): a service started in
        production refuses to start while any is left (:func:`isp_common.serve.serve`). Each names
        the setting to change, never a secret's value."""
        if self.environment != "production":
            return []
        problems = [
            f"ISP_{name.upper()} must be set in production (tokens are checked against it)"
            for name, value in (
                ("jwt_jwks_url", self.jwt_jwks_url),
                ("jwt_issuer", self.jwt_issuer),
                ("jwt_audience", self.jwt_audience),
            )
            if not value
        ]
        if self.partnership_key in PUBLIC_SECRETS or len(self.partnership_key) < MIN_SECRET_CHARS:
            problems.append(
                f"ISP_PARTNERSHIP_KEY must be a secret of at least {MIN_SECRET_CHARS} characters, not a default "
                "(with a known key the register's pseudonyms can be reversed by trying every NHS number)"
            )
        if self.kafka_security_protocol != "SASL_SSL":
            problems.append("ISP_KAFKA_SECURITY_PROTOCOL must be SASL_SSL in production (each service logs in)")
        elif not (self.kafka_sasl_username and self.kafka_sasl_password):
            problems.append("ISP_KAFKA_SASL_USERNAME and ISP_KAFKA_SASL_PASSWORD must be set in production")
        user = make_url_user(self.resolved_database_url)
        if user in SUPERUSERS:
            problems.append(f"the database URL connects as {user!r}: give each service its own least-privileged role")
        if self.resolved_database_url.startswith("postgresql"):
            owner = make_url_user(self.migration_database_url) if self.migration_database_url else None
            if owner is None or owner == user:
                problems.append(
                    f"ISP_{self.service_name.upper()}_MIGRATION_DATABASE_URL must name the database owner, a role "
                    "other than the database URL's (migrations run as the owner; the service serves as a role "
                    "that cannot alter tables or drop triggers)"
                )
        return problems

    @property
    def resolved_key_dir(self) -> Path:
        return self.key_dir or self.var_dir / "keys"

    @property
    def resolved_event_keys_dir(self) -> Path:
        return self.event_keys_dir or self.resolved_key_dir / "events"

    @property
    def resolved_event_key_file(self) -> Path:
        return self.event_key_file or self.resolved_event_keys_dir / f"{self.service_name}.jwk"

    @property
    def resolved_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{self.var_dir / (self.service_name + '.db')}"

    @property
    def resolved_directory_file(self) -> Path:
        """:attr:`directory_file` as found: as given if absolute or present in the current
        directory, else under the repository holding this package, else as given."""
        path = self.directory_file
        if path.is_absolute() or path.exists():
            return path
        for parent in Path(__file__).resolve().parents:
            if (parent / path).exists():
                return parent / path
        return path

    @property
    def faust_data_dir(self) -> Path:
        return self.var_dir / f"{self.service_name}-faust"

    def working_calendar(self) -> WorkingCalendar:
        """The shared working-day calendar with this deployment's bank-holiday overrides."""
        from .workingdays import WorkingCalendar

        return WorkingCalendar(extra_holidays=self.extra_bank_holidays, removed_holidays=self.removed_bank_holidays)
