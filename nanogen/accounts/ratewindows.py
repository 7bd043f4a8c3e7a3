"""A `limits` storage on PostgreSQL (table `api_rate_windows`), for a shared API rate limit without Redis.

Only the fixed-window operations `limits.strategies.FixedWindowRateLimiter` needs; each is one statement, timed by
the database clock, so replicas with drifting clocks still share one window per key. Expired rows are reused in
place by the next hit and swept now and then.
"""

from __future__ import annotations

import time

import sqlalchemy as sa
from limits.storage import Storage

INCR = sa.text(
    'INSERT INTO api_rate_windows (key, hits, expires_at) VALUES (:key, :amount, now() + make_interval(secs => :expiry)) '
    'ON CONFLICT (key) DO UPDATE SET '
    'hits = CASE WHEN api_rate_windows.expires_at <= now() THEN EXCLUDED.hits '
    'ELSE api_rate_windows.hits + EXCLUDED.hits END, '
    'expires_at = CASE WHEN api_rate_windows.expires_at <= now() THEN EXCLUDED.expires_at '
    'ELSE api_rate_windows.expires_at END '
    'RETURNING hits')
GET = sa.text('SELECT hits FROM api_rate_windows WHERE key = :key AND expires_at > now()')
REMAINING = sa.text('SELECT EXTRACT(EPOCH FROM (expires_at - now())) FROM api_rate_windows '
                    'WHERE key = :key AND expires_at > now()')
SWEEP = sa.text('DELETE FROM api_rate_windows WHERE expires_at <= now()')
SWEEP_EVERY = 1000  # hits between two sweeps of expired windows, per process


class PostgresWindows(Storage):
    """Fixed rate-limit windows in a PostgreSQL table, shared by every replica of one database."""

    STORAGE_SCHEME = None  # built by bootstrap from the app's engine, not from a URI

    def __init__(self, engine: sa.Engine) -> None:
        super().__init__(wrap_exceptions=False)
        self.engine = engine
        self._hits = 0

    @property
    def base_exceptions(self) -> type[Exception] | tuple[type[Exception], ...]:
        return sa.exc.SQLAlchemyError

    def incr(self, key: str, expiry: int, amount: int = 1) -> int:
        with self.engine.begin() as conn:
            hits = int(conn.execute(INCR, {'key': key, 'amount': amount, 'expiry': float(expiry)}).scalar_one())
            self._hits += 1
            if self._hits % SWEEP_EVERY == 0:
                conn.execute(SWEEP)
        return hits

    def get(self, key: str) -> int:
        with self.engine.connect() as conn:
            return int(conn.execute(GET, {'key': key}).scalar() or 0)

    def get_expiry(self, key: str) -> float:
        """When the key's window ends, on this process's clock (`limits` compares it with time.time())."""
        with self.engine.connect() as conn:
            remaining = conn.execute(REMAINING, {'key': key}).scalar()
        return time.time() + float(remaining or 0)

    def check(self) -> bool:
        try:
            with self.engine.connect() as conn:
                conn.exec_driver_sql('SELECT 1')
        except sa.exc.SQLAlchemyError:
            return False
        return True

    def reset(self) -> int | None:
        with self.engine.begin() as conn:
            return conn.execute(sa.text('DELETE FROM api_rate_windows')).rowcount

    def clear(self, key: str) -> None:
        with self.engine.begin() as conn:
            conn.execute(sa.text('DELETE FROM api_rate_windows WHERE key = :key'), {'key': key})
