"""`python -m bench --quick` still runs every benchmark and prints its table.

Only that the scripts work is checked: the machine is shared, so no timing
is asserted.
"""

import os
import subprocess
import uuid
from pathlib import Path

import psycopg
import pytest
from psycopg import sql

from tests.conftest import ADMIN_DATABASE_URL, REDIS_URL
from tests.support import REPO_ROOT, VENV_BIN

TABLE_TITLES = [
    "### 1. Intake",
    "### 2. Worker",
    "### 3. Slow model",
    "### 4. Latency",
]


@pytest.mark.slow
@pytest.mark.timeout(180)
def test_quick_bench_prints_every_table(tmp_path: Path) -> None:
    database = f"plants_bench_test_{uuid.uuid4().hex[:12]}"
    env = {
        **os.environ,
        "BENCH_DATABASE_URL": psycopg.conninfo.make_conninfo(
            ADMIN_DATABASE_URL, dbname=database
        ),
        "BENCH_REDIS_URL": REDIS_URL,
        "BENCH_RUN_DIR": str(tmp_path),
    }
    try:
        completed = subprocess.run(
            [str(VENV_BIN / "python"), "-m", "bench", "--quick"],
            cwd=REPO_ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=170,
            check=False,
        )
    finally:
        with psycopg.connect(ADMIN_DATABASE_URL, autocommit=True) as conn:
            conn.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(
                    sql.Identifier(database)
                )
            )

    output = completed.stdout
    assert completed.returncode == 0, completed.stderr[-3000:]
    for title in TABLE_TITLES:
        assert title in output
    assert "CreatePlant, 143 KB photo" in output
    assert "no-op actor (baseline)" in output
    assert "idle, 1 plant/s" in output
    assert "benchmarks finished" in output
    assert not list(tmp_path.glob("images-*"))
