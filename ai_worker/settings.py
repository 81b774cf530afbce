"""Settings of the AI worker, read from the environment."""

from typing import Literal

from pydantic import Field, SecretStr, field_validator, model_validator

from shared.settings import CommonSettings


class WorkerSettings(CommonSettings):
    gemini_api_key: SecretStr
    # gemini-1.5-*, gemini-2.0-* and gemini-2.5-flash are shut down and
    # return 404; pick a current flash model.
    gemini_model: str = "gemini-3.8-flash"
    # Another endpoint speaking the same REST protocol, such as the emulator.
    gemini_base_url: str | None = None
    gemini_api_version: str = "v1beta"
    # Applies to each connect and read of a model call, not to the whole call:
    # a reply that trickles in never times out. Only this ends a call blocked
    # in I/O, because Dramatiq's time limit cannot interrupt such a thread.
    gemini_timeout_s: float = Field(default=30.0, gt=0, le=600)
    # Maximum run time of one message, the whole model call included. By
    # default GEMINI_TIMEOUT_S + 30. Dramatiq checks it once a second, between Python
    # instructions, so it ends a trickling reply that GEMINI_TIMEOUT_S misses.
    worker_time_limit_s: float | None = Field(default=None, gt=0)
    gemini_media_resolution: Literal[
        "MEDIA_RESOLUTION_LOW", "MEDIA_RESOLUTION_MEDIUM", "MEDIA_RESOLUTION_HIGH"
    ] = "MEDIA_RESOLUTION_MEDIUM"
    gemini_thinking_level: Literal["MINIMAL", "LOW", "MEDIUM", "HIGH"] = "LOW"
    gemini_max_output_tokens: int = Field(default=4096, ge=256)
    # Maximum width and height of the JPEG sent to the model, in pixels.
    image_max_side_px: int = Field(default=1024, ge=64, le=4096)

    # Model calls allowed per plant, redeliveries after a crash included.
    worker_max_attempts: int = Field(default=5, ge=1, le=50)
    worker_min_backoff_ms: int = Field(default=5_000, ge=0)
    worker_max_backoff_ms: int = Field(default=300_000, ge=0)
    # Database connections per worker process; by default one per thread
    # plus one, at most 20. Threads hold a connection only for the claim and
    # the final write, never during the model call.
    db_pool_max_size: int | None = Field(default=None, ge=1)
    # Redis connections per worker process; must exceed the thread count.
    redis_max_connections: int = Field(default=1000, ge=10)
    # How long an idle consumer waits before polling Redis again. Dramatiq's
    # default of 1000 ms adds up to a second of latency to every plant that
    # arrives at an idle worker.
    worker_poll_interval_ms: int = Field(default=100, ge=10, le=10_000)

    @property
    def time_limit_s(self) -> float:
        """Return WORKER_TIME_LIMIT_S, or GEMINI_TIMEOUT_S + 30 when unset."""
        if self.worker_time_limit_s is not None:
            return self.worker_time_limit_s
        return self.gemini_timeout_s + 30

    @property
    def actor_time_limit_ms(self) -> int:
        return int(self.time_limit_s * 1000)

    @model_validator(mode="after")
    def _check_timeouts(self) -> "WorkerSettings":
        if self.gemini_timeout_s >= self.time_limit_s:
            msg = (
                f"GEMINI_TIMEOUT_S ({self.gemini_timeout_s}) must be below "
                f"WORKER_TIME_LIMIT_S ({self.time_limit_s})"
            )
            raise ValueError(msg)
        if self.time_limit_s + 1 > self.processing_lease_s:
            # Otherwise a call still running when the lease ends lets another
            # worker take the plant over and pay for a second call. The second
            # is the time limit's checking interval.
            msg = (
                f"WORKER_TIME_LIMIT_S ({self.time_limit_s}) must be at least 1 s "
                f"below PROCESSING_LEASE_S ({self.processing_lease_s})"
            )
            raise ValueError(msg)
        if self.worker_min_backoff_ms > self.worker_max_backoff_ms:
            msg = (
                f"WORKER_MIN_BACKOFF_MS ({self.worker_min_backoff_ms}) must not "
                f"exceed WORKER_MAX_BACKOFF_MS ({self.worker_max_backoff_ms})"
            )
            raise ValueError(msg)
        return self

    @field_validator("gemini_api_key")
    @classmethod
    def _check_api_key(cls, value: SecretStr) -> SecretStr:
        if not value.get_secret_value().strip():
            msg = "is empty: set it to a Gemini API key (any value for the emulator)"
            raise ValueError(msg)
        return value

    @field_validator("gemini_base_url")
    @classmethod
    def _check_base_url(cls, value: str | None) -> str | None:
        if value == "":
            return None
        if value is not None and not value.startswith(("http://", "https://")):
            msg = f"expected an http:// or https:// URL, got {value!r}"
            raise ValueError(msg)
        return value
