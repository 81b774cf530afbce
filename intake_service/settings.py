"""Settings of the intake service, read from the environment."""

from pathlib import Path
from typing import Self

from pydantic import Field, SecretStr, field_validator, model_validator

from shared.settings import CommonSettings

MIB = 1024 * 1024


class IntakeSettings(CommonSettings):
    intake_grpc_host: str = "0.0.0.0"
    intake_grpc_port: int = Field(default=50051, ge=0, le=65535)
    # Threads serving calls. Each call uses one thread for its whole duration.
    intake_grpc_threads: int = Field(default=32, ge=1, le=1000)
    db_pool_max_size: int = Field(default=16, ge=1)
    # Maximum wait for a database connection in a call without a deadline.
    # After it the call ends UNAVAILABLE.
    db_pool_timeout_s: float = Field(default=5.0, gt=0)
    max_image_bytes: int = Field(default=20 * MIB, ge=1)
    # Decoded size limit; larger images are rejected as decompression bombs.
    max_image_pixels: int = Field(default=60_000_000, ge=1)
    # How long SIGTERM waits for in-flight calls before cancelling them.
    shutdown_grace_s: float = Field(default=10.0, ge=0)
    # Comma-separated bearer tokens. Unset or empty means that calls need no
    # token. Any other value must contain at least one token.
    intake_auth_tokens: SecretStr | None = None
    # PEM files; with both set the server listens with TLS only.
    intake_tls_cert_file: Path | None = None
    intake_tls_key_file: Path | None = None
    # How often the re-send loop looks for plants whose message was never sent
    # or went stale. A plant is re-sent once it has been unsent this long.
    resend_interval_s: float = Field(default=10.0, gt=0)
    # Plants re-sent per pass, so one pass holds its row locks briefly.
    resend_batch_size: int = Field(default=100, ge=1, le=10_000)
    # How often the health service checks that PostgreSQL is reachable.
    health_check_interval_s: float = Field(default=2.0, gt=0)
    # Connect and read timeout of Redis calls, so a send to an unreachable
    # Redis fails within a call instead of hanging it.
    redis_timeout_s: float = Field(default=2.0, gt=0)

    @field_validator("intake_auth_tokens")
    @classmethod
    def _check_auth_tokens(cls, value: SecretStr | None) -> SecretStr | None:
        # Compose passes an unset variable as an empty string, but a value
        # such as " , " is a mistake that would silently turn auth off.
        if value is None or value.get_secret_value() == "":
            return None
        if not _split_tokens(value.get_secret_value()):
            msg = (
                "contains no token: give comma-separated bearer tokens, "
                "or leave it unset to turn authentication off"
            )
            raise ValueError(msg)
        return value

    @model_validator(mode="after")
    def _check_tls_pair(self) -> Self:
        if (self.intake_tls_cert_file is None) != (self.intake_tls_key_file is None):
            msg = "set both INTAKE_TLS_CERT_FILE and INTAKE_TLS_KEY_FILE, or neither"
            raise ValueError(msg)
        return self

    def auth_tokens(self) -> list[str]:
        """Return the accepted bearer tokens; an empty list turns auth off."""
        if self.intake_auth_tokens is None:
            return []
        return _split_tokens(self.intake_auth_tokens.get_secret_value())


def _split_tokens(value: str) -> list[str]:
    tokens = (token.strip() for token in value.split(","))
    return [token for token in tokens if token]
