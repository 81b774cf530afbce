"""Settings of the AI worker, read from the environment."""

from typing import Literal

from pydantic import Field, SecretStr, field_validator

from shared.settings import CommonSettings


class WorkerSettings(CommonSettings):
    gemini_api_key: SecretStr
    # gemini-1.5-*, gemini-2.0-* and gemini-2.5-flash are shut down and
    # return 404; pick a current flash model.
    gemini_model: str = "gemini-3.8-flash"
    # Another endpoint speaking the same REST protocol, such as the emulator.
    gemini_base_url: str | None = None
    gemini_api_version: str = "v1beta"
    # Per call; must stay well below the actor time limit, because Dramatiq's
    # time limit cannot interrupt a thread blocked in I/O.
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

    @field_validator("gemini_base_url")
    @classmethod
    def _check_base_url(cls, value: str | None) -> str | None:
        if value == "":
            return None
        if value is not None and not value.startswith(("http://", "https://")):
            msg = f"expected an http:// or https:// URL, got {value!r}"
            raise ValueError(msg)
        return value
