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
    # Per call. The actor time limit is derived from it (see
    # `actor_time_limit_ms`), because Dramatiq's time limit cannot interrupt a
    # thread blocked in I/O, so only this timeout ends a hung call. It must be
    # below PROCESSING_LEASE_S.
    gemini_timeout_s: float = Field(default=30.0, gt=0, le=600)
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
    db_pool_max_size: int | None = Field(default=None, ge=1)

    @property
    def actor_time_limit_ms(self) -> int:
        """Return the actor's time limit: the model call's timeout plus 60 s.

        A backstop only. The margin covers reading and resizing the photo and
        the database writes around the call.
        """
        return int((self.gemini_timeout_s + 60) * 1000)

    @model_validator(mode="after")
    def _check_timeouts(self) -> "WorkerSettings":
        if self.gemini_timeout_s >= self.processing_lease_s:
            # Otherwise a call still running when the lease ends lets another
            # worker take the plant over and pay for a second call.
            msg = (
                f"GEMINI_TIMEOUT_S ({self.gemini_timeout_s}) must be below "
                f"PROCESSING_LEASE_S ({self.processing_lease_s})"
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
