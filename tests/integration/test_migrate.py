"""`python -m shared.migrate` is idempotent and safe to run concurrently."""

import subprocess
import sys
from collections.abc import Iterator

import psycopg
import pytest

from tests.conftest import temporary_database
from tests.support import REPO_ROOT

MIGRATION_FILES = sorted(
    path.name for path in (REPO_ROOT / "shared" / "migrations").glob("*.sql")
)


@pytest.fixture
def empty_database_url() -> Iterator[str]:
    with temporary_database("plants_migrate") as url:
        yield url


def test_concurrent_migrations_apply_each_file_once(empty_database_url: str) -> None:
    runs = [
        subprocess.Popen(
            [sys.executable, "-m", "shared.migrate"],
            cwd=REPO_ROOT,
            env={"PATH": "/usr/bin:/bin", "DATABASE_URL": empty_database_url},
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(4)
    ]
    results = [run.communicate(timeout=60) for run in runs]

    assert [run.returncode for run in runs] == [0, 0, 0, 0], results
    applied_lines = [
        line
        for _, stderr in results
        for line in stderr.splitlines()
        if '"migration_applied"' in line
    ]
    assert len(applied_lines) == len(MIGRATION_FILES)
    with psycopg.connect(empty_database_url) as conn:
        versions = conn.execute("SELECT version FROM schema_migrations").fetchall()
        columns = conn.execute(
            "SELECT column_name FROM information_schema.columns "
            "WHERE table_name = 'plants'"
        ).fetchall()
    assert [version for (version,) in versions] == MIGRATION_FILES
    assert {"id", "owner_id", "ai_data", "attempts", "idempotency_key"} <= {
        column for (column,) in columns
    }
