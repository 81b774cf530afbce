"""`python -m shared.migrate` is idempotent and safe to run concurrently."""

import subprocess
import sys
import uuid
from collections.abc import Iterator

import psycopg
import pytest
from psycopg import sql

from tests.conftest import ADMIN_DATABASE_URL
from tests.support import REPO_ROOT

MIGRATION_FILES = sorted(
    path.name for path in (REPO_ROOT / "shared" / "migrations").glob("*.sql")
)


@pytest.fixture
def empty_database_url() -> Iterator[str]:
    name = f"plants_migrate_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(ADMIN_DATABASE_URL, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    yield psycopg.conninfo.make_conninfo(ADMIN_DATABASE_URL, dbname=name)
    with psycopg.connect(ADMIN_DATABASE_URL, autocommit=True) as conn:
        conn.execute(
            sql.SQL("DROP DATABASE {} WITH (FORCE)").format(sql.Identifier(name))
        )


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
