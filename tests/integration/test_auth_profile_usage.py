"""The profile page's usage figures, read from prompts, on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

from sqlmodel import Session

from nanogen.config import Settings
from nanogen.models import Prompt
from nanogen.ops.usage import monthly_usage
from nanogen.spend import month_start

NOW = datetime(2026, 3, 15, 12, 0, tzinfo=UTC)


async def test_usage_counts_this_months_prompts_of_this_user_only(make_services, isolated_env: Path,
                                                                  database_url: str) -> None:
    services = await make_services(Settings(NANOGEN_DATA_DIR=str(isolated_env), NANOGEN_DATABASE_URL=database_url))
    ada = await services.users.sign_in(subject='local:ada@example.com', email='ada@example.com')
    bob = await services.users.sign_in(subject='local:bob@example.com', email='bob@example.com')

    def add(s: Session) -> None:
        rows = [(ada.id, Decimal('0.0125'), 'COMPLETED', datetime(2026, 3, 1, 0, 0, tzinfo=UTC)),
                (ada.id, Decimal('0.045'), 'COMPLETED', datetime(2026, 3, 15, 11, 0, tzinfo=UTC)),
                (ada.id, Decimal('0'), 'FAILED', datetime(2026, 3, 10, tzinfo=UTC)),
                (ada.id, Decimal('5'), 'COMPLETED', datetime(2026, 2, 28, 23, 59, tzinfo=UTC)),  # last month
                (bob.id, Decimal('7'), 'COMPLETED', datetime(2026, 3, 5, tzinfo=UTC))]  # someone else
        for user_id, cost, status, created in rows:
            s.add(Prompt(user_id=user_id, prompt='p', cost=cost, status=status, created_at=created))
        s.commit()
    await services.db.write(add)
    usage = await monthly_usage(services.db, ada.id, clock=lambda: NOW)
    assert (usage.generations, usage.completed, usage.spend) == (3, 2, Decimal('0.0575'))
    assert usage.month_start == datetime(2026, 3, 1, tzinfo=UTC)
    empty = await monthly_usage(services.db, 99999, clock=lambda: NOW)
    assert (empty.generations, empty.completed, empty.spend) == (0, 0, Decimal('0'))


def test_month_start_is_in_utc() -> None:
    assert month_start(datetime(2026, 1, 1, 0, 30, tzinfo=UTC)) == datetime(2026, 1, 1, tzinfo=UTC)
    assert month_start(datetime(2026, 12, 31, 23, 59, tzinfo=UTC)) == datetime(2026, 12, 1, tzinfo=UTC)
