"""PostgreSQL connection pools."""

from psycopg_pool import ConnectionPool

# Fail fast when the server is unreachable instead of hanging a request.
CONNECT_TIMEOUT_S = 5
# A query that runs longer than this is cancelled by the server.
STATEMENT_TIMEOUT_MS = 15_000


def create_pool(
    database_url: str, *, name: str, min_size: int = 1, max_size: int = 10
) -> ConnectionPool:
    """Create a connection pool without opening it.

    The caller opens it (`pool.open()`) in the process that uses it: a pool
    must never cross a fork, because libpq connections cannot be shared
    between processes.
    """
    return ConnectionPool(
        database_url,
        name=name,
        min_size=min_size,
        max_size=max_size,
        open=False,
        timeout=CONNECT_TIMEOUT_S,
        # Test each connection before lending it: after a server restart or
        # a terminated backend, the pool would otherwise hand out dead
        # connections and fail one request for each of them.
        check=ConnectionPool.check_connection,
        kwargs={
            "connect_timeout": CONNECT_TIMEOUT_S,
            "options": f"-c statement_timeout={STATEMENT_TIMEOUT_MS}",
            "application_name": name,
        },
    )
