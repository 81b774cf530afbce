"""Settings of the intake service, read from the environment."""

from pydantic import Field, SecretStr

from shared.settings import CommonSettings

MIB = 1024 * 1024


class IntakeSettings(CommonSettings):
    intake_grpc_host: str = "0.0.0.0"
    intake_grpc_port: int = Field(default=50051, ge=0, le=65535)
    # Threads serving calls; each call holds one at most for its duration.
    intake_grpc_threads: int = Field(default=32, ge=1, le=1000)
    db_pool_max_size: int = Field(default=16, ge=1)
    max_image_bytes: int = Field(default=20 * MIB, ge=1)
    # Decoded size limit; larger images are rejected as decompression bombs.
    max_image_pixels: int = Field(default=60_000_000, ge=1)
    # How long SIGTERM waits for in-flight calls before cancelling them.
    shutdown_grace_s: float = Field(default=10.0, ge=0)
    # Comma-separated bearer tokens; empty means calls need no token.
    intake_auth_tokens: SecretStr | None = None
