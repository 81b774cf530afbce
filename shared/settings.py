"""Settings both services read from the environment.

Each service defines its own frozen settings class on top of `CommonSettings`
and loads it once in its entry point with `load_settings`.
"""

from pathlib import Path
from typing import TypeVar

from pydantic import Field, SecretStr, ValidationError
from pydantic_settings import BaseSettings, SettingsConfigDict

from shared.errors import describe_validation_error
from shared.messaging import (
    DEFAULT_HEARTBEAT_TIMEOUT_MS,
    DEFAULT_MAINTENANCE_CHANCE,
    MAINTENANCE_SCALE,
)


class CommonSettings(BaseSettings):
    """Database, queue and image store settings shared by intake and worker."""

    model_config = SettingsConfigDict(frozen=True, extra="ignore")

    # A connection string may carry a password, so it is kept out of reprs.
    database_url: SecretStr
    redis_url: SecretStr | None = None
    redis_host: str = "127.0.0.1"
    redis_port: int = Field(default=6379, ge=1, le=65535)
    # Dramatiq key prefix in Redis; lets several deployments or test runs
    # share one Redis server without seeing each other's messages.
    queue_namespace: str = "dramatiq"
    image_store_dir: Path
    # A plant left PROCESSING longer than this by a killed worker is offered
    # again, both by the worker's claim and by the intake's re-send loop.
    processing_lease_s: float = Field(default=300.0, gt=0)
    # Dramatiq on Redis redelivers a killed worker's unacknowledged messages
    # only once its heartbeat is QUEUE_HEARTBEAT_TIMEOUT_MS old, and only
    # during "maintenance", which runs on QUEUE_MAINTENANCE_CHANCE of every
    # million broker calls. The wait on an idle queue is roughly the timeout
    # plus 1e6 / chance polls of about 0.75 s: an estimate of 13 minutes with
    # Dramatiq 2.2.1's default chance of 1 000, and 2 minutes with 10 000.
    queue_heartbeat_timeout_ms: int = Field(
        default=DEFAULT_HEARTBEAT_TIMEOUT_MS, ge=1_000
    )
    queue_maintenance_chance: int = Field(
        default=DEFAULT_MAINTENANCE_CHANCE, ge=0, le=MAINTENANCE_SCALE
    )
    # Connect and read timeout of Redis calls, so that an unreachable Redis
    # fails a call instead of hanging its thread.
    redis_timeout_s: float = Field(default=10.0, gt=0)
    log_level: str = "INFO"

    @property
    def broker_url(self) -> str:
        """Return REDIS_URL, or a URL built from REDIS_HOST and REDIS_PORT."""
        if self.redis_url is not None:
            return self.redis_url.get_secret_value()
        return f"redis://{self.redis_host}:{self.redis_port}/0"


SettingsT = TypeVar("SettingsT", bound=BaseSettings)


class SettingsError(Exception):
    """Raised when a setting is missing from the environment or invalid."""


def load_settings(settings_class: type[SettingsT]) -> SettingsT:
    """Load settings from the environment.

    Raises `SettingsError` naming every missing or invalid variable, without
    echoing values, because some of them are secrets.
    """
    try:
        return settings_class()
    except ValidationError as exc:
        problems = []
        for error in exc.errors():
            variable = "_".join(str(part) for part in error["loc"]).upper()
            if not variable:
                # A rule across several settings names them in its message.
                problems.append(f"invalid settings: {describe_validation_error(error)}")
            elif error["type"] == "missing":
                problems.append(f"missing required setting {variable}")
            else:
                problems.append(
                    f"invalid setting {variable}: {describe_validation_error(error)}"
                )
        raise SettingsError("; ".join(problems)) from None
