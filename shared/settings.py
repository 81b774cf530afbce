"""Settings both services read from the environment.

Each service defines its own frozen settings class on top of `CommonSettings`
and loads it once in its entry point with `load_settings`.
"""

from pathlib import Path
from typing import TypeVar

from pydantic import Field, SecretStr, ValidationError
from pydantic_settings import BaseSettings, SettingsConfigDict


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
    log_level: str = "INFO"

    @property
    def broker_url(self) -> str:
        """Return REDIS_URL, or a URL built from REDIS_HOST and REDIS_PORT."""
        if self.redis_url is not None:
            return self.redis_url.get_secret_value()
        return f"redis://{self.redis_host}:{self.redis_port}/0"


SettingsT = TypeVar("SettingsT", bound=BaseSettings)


class SettingsError(Exception):
    """Raised when the environment holds a missing or invalid setting."""


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
            if error["type"] == "missing":
                problems.append(f"missing required setting {variable}")
            else:
                problems.append(f"invalid setting {variable}: {error['msg']}")
        raise SettingsError("; ".join(problems)) from None
