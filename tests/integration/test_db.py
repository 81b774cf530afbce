"""Connection pools recover from connections the server dropped."""

import psycopg

from shared.db import create_pool


def test_pool_replaces_terminated_connection(database_url: str) -> None:
    pool = create_pool(database_url, name="pool-check-test", min_size=1, max_size=1)
    pool.open(wait=True)
    with pool.connection() as conn:
        backend_pid = conn.info.backend_pid
    with psycopg.connect(database_url, autocommit=True) as admin:
        admin.execute("SELECT pg_terminate_backend(%s)", (backend_pid,))

    with pool.connection() as conn:
        value = conn.execute("SELECT 1").fetchone()
        new_backend_pid = conn.info.backend_pid
    pool.close()

    assert value == (1,)
    assert new_backend_pid != backend_pid
