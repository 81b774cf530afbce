"""`python -m bench --quick` still runs every benchmark and prints its table.

Only that the scripts work is checked: the machine is shared, so no timing
is asserted. The runs also leave no database, Redis key or photo behind.
"""

import os
import signal
import subprocess
from pathlib import Path

import psycopg
import pytest
import redis

from tests.conftest import ADMIN_DATABASE_URL, REDIS_URL
from tests.support import REPO_ROOT, VENV_BIN, wait_until

TABLE_TITLES = [
    "### 1. Intake",
    "### 2. Worker",
    "### 3. Slow model",
    "### 4. Latency",
]


def bench_env(run_dir: Path) -> dict[str, str]:
    return {
        **os.environ,
        "BENCH_DATABASE_ADMIN_URL": ADMIN_DATABASE_URL,
        "BENCH_REDIS_URL": REDIS_URL,
        "BENCH_RUN_DIR": str(run_dir),
    }


def bench_redis_keys() -> set[bytes]:
    client = redis.Redis.from_url(REDIS_URL)
    try:
        return set(client.scan_iter("plants-bench-*"))
    finally:
        client.close()


def bench_databases() -> set[str]:
    with psycopg.connect(ADMIN_DATABASE_URL, autocommit=True) as conn:
        rows = conn.execute(
            "SELECT datname FROM pg_database WHERE datname LIKE 'plants_bench_%'"
        ).fetchall()
    return {name for (name,) in rows}


@pytest.mark.slow
@pytest.mark.timeout(180)
def test_quick_bench_prints_every_table(tmp_path: Path) -> None:
    databases_before = bench_databases()
    keys_before = bench_redis_keys()

    completed = subprocess.run(
        [str(VENV_BIN / "python"), "-m", "bench", "--quick"],
        cwd=REPO_ROOT,
        env=bench_env(tmp_path),
        capture_output=True,
        text=True,
        timeout=170,
        check=False,
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
    assert bench_databases() <= databases_before
    assert bench_redis_keys() <= keys_before


@pytest.mark.slow
@pytest.mark.timeout(120)
def test_terminated_bench_cleans_up(tmp_path: Path) -> None:
    databases_before = bench_databases()
    run = subprocess.Popen(
        [str(VENV_BIN / "python"), "-m", "bench", "--quick", "--only", "worker"],
        cwd=REPO_ROOT,
        env=bench_env(tmp_path),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    # The stack is up, and a benchmark under way, once the no-op baseline
    # worker has written its log.
    wait_until(
        lambda: (tmp_path / "noop-worker.log").exists() or run.poll() is not None,
        timeout_s=90,
    )
    assert run.poll() is None, run.communicate()[0][-3000:]

    run.send_signal(signal.SIGTERM)
    output, _ = run.communicate(timeout=90)

    assert run.returncode == 128 + signal.SIGTERM, output[-3000:]
    assert not list(tmp_path.glob("images-*")), output[-3000:]
    assert bench_databases() <= databases_before, output[-3000:]
