"""A prompt that may have been billed twice (a resubmit after a lost submit answer) says so where people look: the
history's cost, the API's prompt, the admin console's count this month, and /metrics (from the database)."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

from nicegui.testing import User
from prometheus_client.parser import text_string_to_metric_families

from nanogen.http.api.models import prompt_out
from nanogen.models import Prompt, utcnow
from tests.ui.helpers import eventually, should_see, sign_in
from tests.ui.studio import app_services, text_of, user_id


async def seed_suspects(uid: int) -> int:
    """This month: one prompt resubmitted twice, one once, one clean; last year's resubmit does not count."""
    def work(s) -> int:  # type: ignore[no-untyped-def]
        now, old = utcnow(), utcnow() - timedelta(days=400)
        rows = [Prompt(user_id=uid, prompt=f'resubmitted {n}', status='COMPLETED', cost=Decimal('0.025'),
                       suspect_submits=n, created_at=now, updated_at=now) for n in (2, 1, 0)]
        rows.append(Prompt(user_id=uid, prompt='long ago', status='COMPLETED', suspect_submits=1, created_at=old,
                           updated_at=old))
        s.add_all(rows)
        s.commit()
        return rows[1].id
    result: int = await app_services().db.write(work)
    return result


async def test_a_possible_double_charge_is_shown_in_history_api_admin_and_metrics(user: User) -> None:
    await sign_in(user, email='ada@example.com', then='/dashboard')  # first user on a dev install: admin
    services = app_services()
    once = await seed_suspects(await user_id(services, 'ada@example.com'))

    await user.open('/history')
    costs: dict[str, str] = {}

    def loaded() -> bool:
        costs.update({r['prompt']: r['cost'] for r in user.find(marker='history-table').elements.pop().rows})
        return 'resubmitted 2' in costs
    await eventually(loaded)
    assert costs['resubmitted 2'] == '$0.0250 (incl. 2 possible double charge)'
    assert costs['resubmitted 0'] == '$0.0250'

    prompt = await services.db.run(lambda s: s.get(Prompt, once))
    assert prompt_out('https://x', prompt).suspect_submits == 1

    await user.open('/admin')
    await eventually(lambda: text_of(user, 'suspect-submits') == '2')  # prompts this month
    await should_see(user, '3 resubmit(s)')

    families = {f.name: f for f in text_string_to_metric_families((await services.metrics.render()).decode())}
    assert families['nanogen_suspect_submits_month'].samples[0].value == 3
