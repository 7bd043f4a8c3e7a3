"""A submit whose attempt is counted but whose request has not left yet, when the database goes away for a moment:
it waits the database out and sends once, so no possible extra charge is flagged for a request that never went out
(CI's SQLite-lock drill once caught a prompt billed twice in the app's books this way)."""

from __future__ import annotations

from pathlib import Path

import sqlalchemy.event
import sqlalchemy.exc

from nanogen.generation.requests import validate_request
from nanogen.models import Status
from tests.conftest import make_settings
from tests.integration.test_generation import add_user, wait_status


async def test_a_database_blip_just_before_sending_is_waited_out_not_flagged(fake, make_services,
                                                                           isolated_env: Path) -> None:
    provider, url = fake
    provider.config.latency_s = 0.05
    services = await make_services(make_settings(isolated_env, f'sqlite:///{isolated_env}/t.db', url,
                                                 NANOGEN_POLL_INITIAL=0.2, NANOGEN_POLL_MAX=0.5))
    rows = services.generation.steps.rows
    real_holds, blips = rows.holds, []

    async def busy_once(pid: int, token: str) -> bool:
        if not blips:  # the fault injection: the first look at the claim finds the database locked
            blips.append(pid)
            raise sqlalchemy.exc.OperationalError('SELECT claim_token', {}, Exception('database is locked'))
        return await real_holds(pid, token)
    rows.holds = busy_once  # type: ignore[method-assign]

    uid = await add_user(services)
    prompt = await services.generation.create(uid, validate_request(prompt='a lighthouse in "fog" \\ rain', size=512))
    done = await wait_status(services, prompt.id, {Status.COMPLETED.value, Status.FAILED.value}, timeout=60)
    assert blips == [prompt.id]  # the fault did happen, on this prompt's submit
    assert done.status == Status.COMPLETED.value, done.error_message
    assert provider.submissions == 1 and done.submit_attempts == 1
    assert done.suspect_submits == 0
    assert done.cost == services.settings.price_for(512, done.model)


async def test_a_database_blip_right_after_the_claim_commits_is_waited_out_not_flagged(fake, make_services,
                                                                                      isolated_env: Path) -> None:
    """The claim's commit counts the attempt; the read of the claimed row after it meets a dropped connection (CI's
    PostgreSQL drill terminated the backends just then). The step reads again instead of pausing, so the resume
    never flags a possible extra charge for a request that never went out."""
    provider, url = fake
    provider.config.latency_s = 0.05
    services = await make_services(make_settings(isolated_env, f'sqlite:///{isolated_env}/t.db', url,
                                                 NANOGEN_POLL_INITIAL=0.2, NANOGEN_POLL_MAX=0.5))
    state = {'claimed': False, 'failed': 0}

    def drop_once(conn: object, cursor: object, statement: str, *_: object) -> None:
        # The fault injection, in the driver's path: the claim's UPDATE goes through, the next read of the prompts
        # table fails once, as a terminated backend does.
        sql = ' '.join(statement.split()).upper()
        if sql.startswith('UPDATE PROMPTS SET') and 'CLAIM_TOKEN' in sql:
            state['claimed'] = True
        elif state['claimed'] and not state['failed'] and sql.startswith('SELECT') and 'FROM PROMPTS' in sql:
            state['failed'] += 1
            raise sqlalchemy.exc.OperationalError(statement, {}, Exception('server closed the connection'))
    uid = await add_user(services)
    sqlalchemy.event.listen(services.db.engine, 'before_cursor_execute', drop_once)
    prompt = await services.generation.create(uid, validate_request(prompt='a lighthouse after the blip', size=512))
    done = await wait_status(services, prompt.id, {Status.COMPLETED.value, Status.FAILED.value}, timeout=60)
    assert state['failed'] == 1  # the fault did happen
    assert done.status == Status.COMPLETED.value, done.error_message
    assert provider.submissions == 1 and done.submit_attempts == 1
    assert done.suspect_submits == 0
    assert done.cost == services.settings.price_for(512, done.model)
