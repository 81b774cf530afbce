"""Apply the SQL migrations in shared/migrations: `python -m shared.migrate`.

Safe to run from several replicas at once: a PostgreSQL advisory lock lets one
run apply the pending files while the others wait, then find nothing to do.
Each file is applied in its own transaction together with its bookkeeping row.
"""

import sys
from importlib import resources

import psycopg
import structlog
from pydantic import SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

from shared.logging import configure_logging
from shared.settings import SettingsError, load_settings

log = structlog.get_logger()

# Arbitrary constant identifying this project's migration lock.
MIGRATION_LOCK_ID = 7_300_112_025


class MigrationSettings(BaseSettings):
    model_config = SettingsConfigDict(frozen=True, extra="ignore")

    database_url: SecretStr
    log_level: str = "INFO"


def migrate(database_url: str) -> list[str]:
    """Apply pending migrations in name order; return the names applied."""
    files = sorted(
        (
            entry
            for entry in resources.files("shared.migrations").iterdir()
            if entry.name.endswith(".sql")
        ),
        key=lambda entry: entry.name,
    )
    applied_now = []
    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute("SELECT pg_advisory_lock(%s)", (MIGRATION_LOCK_ID,))
        try:
            conn.execute(
                """
                CREATE TABLE IF NOT EXISTS schema_migrations (
                    version    text PRIMARY KEY,
                    applied_at timestamptz NOT NULL DEFAULT now()
                )
                """
            )
            done = {
                row[0] for row in conn.execute("SELECT version FROM schema_migrations")
            }
            for entry in files:
                if entry.name in done:
                    continue
                with conn.transaction():
                    conn.execute(entry.read_text(encoding="utf-8"))
                    conn.execute(
                        "INSERT INTO schema_migrations (version) VALUES (%s)",
                        (entry.name,),
                    )
                log.info("migration_applied", version=entry.name)
                applied_now.append(entry.name)
        finally:
            conn.execute("SELECT pg_advisory_unlock(%s)", (MIGRATION_LOCK_ID,))
    return applied_now


def main() -> int:
    try:
        settings = load_settings(MigrationSettings)
    except SettingsError as exc:
        print(f"shared.migrate: {exc}", file=sys.stderr)
        return 2
    configure_logging("migrate", settings.log_level)
    try:
        applied = migrate(settings.database_url.get_secret_value())
    except psycopg.OperationalError as exc:
        log.critical("migration_failed", error=str(exc))
        return 1
    log.info("migrations_up_to_date", applied=applied)
    return 0


if __name__ == "__main__":
    sys.exit(main())
