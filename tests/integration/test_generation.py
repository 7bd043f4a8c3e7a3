"""The generation service against the contract fake over real HTTP, on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import httpx
import pytest
from sqlmodel import select
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from nanogen.bootstrap import Services
from nanogen.events import PromptEvent
from nanogen.generation.requests import validate_request
from nanogen.models import Image, Prompt, Status, User
from tests.conftest import make_settings
from tests.support.inloop import serve_in_loop


async def add_user(services: Services, email: str = 'ada@example.com') -> int:
    user = await services.users.sign_in(subject=f'local:{email}', email=email, name='Ada')
    assert user.id is not None
    return user.id


async def wait_status(services: Services, prompt_id: int, statuses: set[str], timeout: float = 15) -> Prompt:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        prompt = await services.db.run(lambda s: s.get(Prompt, prompt_id))
        assert prompt is not None
        if prompt.status in statuses:
            return prompt
        await asyncio.sleep(0.05)
    raise AssertionError(f'prompt {prompt_id} stayed {prompt.status}, wanted {statuses}')


async def test_success_by_polling_stores_image_cost_and_events(fake, make_services, isolated_env: Path,
                                                               database_url: str) -> None:
    provider, url = fake
    services = await make_services(make_settings(isolated_env, database_url, url))
    events: list[PromptEvent] = []
    services.bus.subscribe(events.append)
    uid = await add_user(services)
    req = validate_request(prompt='a red fox in the snow', size=512, aspect_ratio='16:9', num_images=2,
                           watermark='ACME')
    prompt = await services.generation.create(uid, req)
    assert prompt.status == 'PENDING' and prompt.estimated_cost == Decimal('0.010')
    done = await wait_status(services, prompt.id, {'COMPLETED', 'FAILED'})
    assert done.status == 'COMPLETED', done.error_message
    assert done.cost == Decimal('0.010') and done.duration_ms and done.duration_ms > 0
    assert done.provider_task_id in provider.tasks and provider.submissions == 1
    assert done.provider_task_id in (done.response_data or '')  # the provider's answer is kept with the prompt
    images = await services.db.run(lambda s: list(s.exec(select(Image).where(Image.prompt_id == prompt.id))))
    assert [i.position for i in sorted(images, key=lambda i: i.position)] == [0, 1]
    assert done.image_id == min(images, key=lambda i: i.position).id
    for image in images:
        assert (image.width, image.height) == (512, 288)
        for key in (image.key, image.original_key, image.thumb_key):
            assert await services.storage.exists(key), key
        assert image.key.startswith(f'users/{uid}/{prompt.id}/')
    assert next(e.status for e in events) == 'PENDING'
    assert 'PROCESSING' in [e.status for e in events] and events[-1].status == 'COMPLETED'
    assert len(events[-1].image_ids) == 2


async def test_generation_failure_is_recorded_with_message_and_no_cost(fake, make_services, isolated_env: Path) -> None:
    provider, url = fake
    provider.config.fail_rate = 1.0
    services = await make_services(make_settings(isolated_env, f'sqlite:///{isolated_env}/t.db', url))
    uid = await add_user(services)
    prompt = await services.generation.create(uid, validate_request(prompt='a blue whale'))
    done = await wait_status(services, prompt.id, {'COMPLETED', 'FAILED'})
    assert done.status == 'FAILED'
    assert done.error_message and 'could not generate' in done.error_message
    assert done.cost == 0


async def test_content_policy_refusal_is_not_retried(fake, make_services, isolated_env: Path) -> None:
    provider, url = fake
    services = await make_services(make_settings(isolated_env, f'sqlite:///{isolated_env}/t.db', url))
    uid = await add_user(services)
    prompt = await services.generation.create(uid, validate_request(prompt='something forbidden here'))
    done = await wait_status(services, prompt.id, {'COMPLETED', 'FAILED'})
    assert done.status == 'FAILED' and 'content policy' in (done.error_message or '')
    assert provider.submissions == 0


async def test_rate_limits_and_errors_are_ridden_out(fake, make_services, isolated_env: Path) -> None:
    provider, url = fake
    provider.config.rate_limit_rate = 0.4
    provider.config.error_rate = 0.2
    provider.config.seed = 7
    services = await make_services(make_settings(isolated_env, f'sqlite:///{isolated_env}/t.db', url,
                                                 NANOGEN_PROVIDER_RETRIES=6))
    services.client.backoff_base = 0.01
    uid = await add_user(services)
    ids = [(await services.generation.create(uid, validate_request(prompt=f'lighthouse number {n}'))).id
           for n in range(4)]
    for pid in ids:
        done = await wait_status(services, pid, {'COMPLETED', 'FAILED'}, timeout=30)
        assert done.status == 'COMPLETED', done.error_message
    assert provider.submissions == 4


async def test_overall_timeout_ends_a_stuck_task(fake, make_services, isolated_env: Path) -> None:
    provider, url = fake
    provider.config.latency_s = 60
    services = await make_services(make_settings(isolated_env, f'sqlite:///{isolated_env}/t.db', url,
                                                 NANOGEN_GENERATION_TIMEOUT=1.0))
    uid = await add_user(services)
    prompt = await services.generation.create(uid, validate_request(prompt='a very slow painting'))
    done = await wait_status(services, prompt.id, {'COMPLETED', 'FAILED'})
    assert done.status == 'FAILED' and 'did not finish within' in (done.error_message or '')


async def test_cancel_stops_a_running_generation(fake, make_services, isolated_env: Path) -> None:
    provider, url = fake
    provider.config.latency_s = 2
    services = await make_services(make_settings(isolated_env, f'sqlite:///{isolated_env}/t.db', url))
    uid = await add_user(services)
    prompt = await services.generation.create(uid, validate_request(prompt='a cancelled castle'))
    await wait_status(services, prompt.id, {'PROCESSING'})
    await services.generation.cancel(uid, prompt.id)
    task_id = (await services.db.run(lambda s: s.get(Prompt, prompt.id))).provider_task_id
    deadline = time.monotonic() + 15
    while not provider.tasks[task_id].finished:  # the provider finishes (and bills) the task anyway
        assert time.monotonic() < deadline, 'the provider never finished the task'
        await asyncio.sleep(0.1)
    await services.generation.steps.check(prompt.id)  # what a late check or callback would do: nothing
    await services.generation.steps.finish(prompt.id)
    row = await services.db.run(lambda s: s.get(Prompt, prompt.id))
    assert row.status == 'CANCELLED' and row.image_id is None
    assert await services.db.run(lambda s: s.exec(select(Image).where(Image.prompt_id == prompt.id)).all()) == []
    other = await add_user(services, 'bob@example.com')
    with pytest.raises(Exception, match='does not exist'):
        await services.generation.cancel(other, prompt.id)


def callback_receiver(services: Services) -> Starlette:
    async def receive(request: Request) -> JSONResponse:
        try:
            await services.generation.handle_callback(request.path_params['token'], await request.json())
        except Exception as exc:  # mirrors the app's route: refusals are 4xx
            return JSONResponse({'error': type(exc).__name__}, status_code=403)
        return JSONResponse({'code': 200})
    return Starlette(routes=[Route('/api/provider/callback/{token}', receive, methods=['POST'])])


async def test_callback_path_completes_faster_than_polling_and_tolerates_duplicates(
        fake, make_services, isolated_env: Path, database_url: str) -> None:
    provider, url = fake
    provider.config.duplicate_callbacks = True
    settings = make_settings(isolated_env, database_url, url, NANOGEN_POLL_INITIAL=20, NANOGEN_POLL_MAX=20)
    services = await make_services(settings, start=False)
    async with serve_in_loop(callback_receiver(services)) as receiver:
        services.settings.public_url = receiver
        await services.start()
        uid = await add_user(services)
        started = time.monotonic()
        prompt = await services.generation.create(uid, validate_request(prompt='callback cathedral'))
        done = await wait_status(services, prompt.id, {'COMPLETED', 'FAILED'}, timeout=10)
        assert done.status == 'COMPLETED'
        assert time.monotonic() - started < 10  # the 20 s poll never fired: the callback woke the job
        task = provider.tasks[done.provider_task_id]
        for _ in range(40):  # the duplicate follows the first callback
            if task.callbacks_sent >= 2:
                break
            await asyncio.sleep(0.05)
        assert task.callbacks_sent == 2
        # A late duplicate callback changes nothing.
        token_url = services.generation.callback_url(prompt.id).replace(settings.public_url or '', receiver)
        async with httpx.AsyncClient() as http:
            body = {'code': 200, 'msg': 'ok', 'data': {'taskId': done.provider_task_id,
                                                       'info': {'resultImageUrl': 'http://x/y.png'}}}
            assert (await http.post(token_url, json=body)).status_code == 200
            images = await services.db.run(lambda s: list(s.exec(select(Image).where(Image.prompt_id == prompt.id))))
            assert len(images) == 1
            # A forged token is refused.
            forged = token_url.rsplit('/', 1)[0] + '/not-a-valid-token'
            assert (await http.post(forged, json=body)).status_code == 403


async def test_callback_is_confirmed_with_record_info_before_completion(fake, make_services, isolated_env: Path) -> None:
    """Issue 13 item 4: a callback claiming success is checked with record-info (seen in the provider's call count,
    not by sleeping), is not believed while the task still runs, and the real end completes it with the real image."""
    provider, url = fake
    provider.config.latency_s = 30
    provider.config.send_callbacks = False
    services = await make_services(make_settings(isolated_env, f'sqlite:///{isolated_env}/t.db', url,
                                                 NANOGEN_POLL_INITIAL=20, NANOGEN_POLL_MAX=20))
    events: list[PromptEvent] = []
    services.bus.subscribe(events.append)
    uid = await add_user(services)
    prompt = await services.generation.create(uid, validate_request(prompt='premature claims'))
    running = await wait_status(services, prompt.id, {'PROCESSING'})
    task_id = running.provider_task_id
    assert task_id
    record_info = '/api/v1/nanobanana/record-info'
    assert provider.calls[record_info] == 0  # polling waits 20 s: any check before then is the callback's doing
    token = services.generation.callback_url(prompt.id).rsplit('/', 1)[1]
    lie = {'code': 200, 'msg': 'done', 'data': {'taskId': task_id,
                                                'info': {'resultImageUrl': 'http://evil.example/x.png'}}}
    await services.generation.handle_callback(token, lie)
    for _ in range(200):
        if provider.calls[record_info]:
            break
        await asyncio.sleep(0.02)
    assert provider.calls[record_info] == 1  # the claim woke the job, which asked the provider
    # A valid token with another task's id is refused too.
    with pytest.raises(Exception, match='Unknown task'):
        await services.generation.handle_callback(token, {**lie, 'data': {**lie['data'], 'taskId': 'other'}})

    async with httpx.AsyncClient() as http:  # now the task really ends at the provider, and says so
        assert (await http.post(f'{url}/_fake/complete/{task_id}')).status_code == 200
    await services.generation.handle_callback(token, provider._callback_body(provider.tasks[task_id]))
    done = await wait_status(services, prompt.id, {'COMPLETED', 'FAILED'})
    assert done.status == 'COMPLETED', done.error_message
    assert provider.calls[record_info] == 2  # one check per callback
    mine = [e.status for e in events if e.prompt_id == prompt.id]
    assert mine[-1] == 'COMPLETED' and set(mine[:-1]) == {'PENDING', 'PROCESSING'}, mine  # never ended early
    (image,) = await services.db.run(lambda s: list(s.exec(select(Image).where(Image.prompt_id == prompt.id))))
    assert (image.width, image.height) == (1024, 1024)  # the provider's picture, not the claimed URL's



async def test_while_callbacks_arrive_the_safety_net_checks_four_times_less_often(
        fake, make_services, isolated_env: Path) -> None:
    """Issue 18: at 500 in flight, a check every NANOGEN_POLL_MAX for each prompt competed with the finishes."""
    from nanogen.generation.steps import SAFETY_NET_FACTOR
    provider, url = fake
    settings = make_settings(isolated_env, f'sqlite:///{isolated_env}/n.db', url, NANOGEN_POLL_INITIAL=2,
                             NANOGEN_POLL_MAX=3)
    services = await make_services(settings, start=False)
    async with serve_in_loop(callback_receiver(services)) as receiver:
        services.settings.public_url = receiver
        await services.start()
        uid = await add_user(services)
        memory = services.generation.engine._memory()

        def check_due_in(pid: int) -> float:
            [job] = [j for j in memory.jobs.values() if j['queueing_lock'] == f'check-{pid}' and j['status'] == 'todo']
            return (job['scheduled_at'] - datetime.now(UTC)).total_seconds()

        provider.config.latency_s = 30  # still generating while the checks are looked at
        before = await services.generation.create(uid, validate_request(prompt='before any callback'))
        await wait_status(services, before.id, {'PROCESSING'})
        assert 2 < check_due_in(before.id) <= 3  # no callback seen yet: NANOGEN_POLL_MAX
        provider.config.latency_s = 0.2
        quick = await services.generation.create(uid, validate_request(prompt='a callback arrives'))
        assert (await wait_status(services, quick.id, {'COMPLETED', 'FAILED'}, timeout=10)).status == 'COMPLETED'
        provider.config.latency_s = 30
        after = await services.generation.create(uid, validate_request(prompt='after a callback'))
        await wait_status(services, after.id, {'PROCESSING'})
        assert 3 * SAFETY_NET_FACTOR - 1 < check_due_in(after.id) <= 3 * SAFETY_NET_FACTOR
        services.generation.steps.monotonic = lambda: time.monotonic() + 301  # no callback for five minutes
        assert services.generation.steps.safety_net_s() == 3


async def test_restart_resumes_in_flight_generations_without_resubmitting(fake, make_services, isolated_env: Path,
                                                                          database_url: str) -> None:
    provider, url = fake
    provider.config.latency_s = 1.5
    settings = make_settings(isolated_env, database_url, url)
    first = await make_services(settings, worker_id='replica-a')
    uid = await add_user(first)
    ids = [(await first.generation.create(uid, validate_request(prompt=f'resumable {n}'))).id for n in range(3)]
    for pid in ids:
        await wait_status(first, pid, {'PROCESSING'})
    await first.stop()  # the app goes away mid-generation
    rows = await first.db.run(lambda s: list(s.exec(select(Prompt))))
    assert {r.status for r in rows} == {'PROCESSING'}
    second = await make_services(make_settings(isolated_env, database_url, url), worker_id='replica-b')
    for pid in ids:
        done = await wait_status(second, pid, {'COMPLETED', 'FAILED'})
        assert done.status == 'COMPLETED', done.error_message
    assert provider.submissions == 3  # resumed by polling the saved task ids, not by submitting again


async def test_pending_prompt_from_a_crash_is_submitted_on_start(fake, make_services, isolated_env: Path) -> None:
    _provider, url = fake
    settings = make_settings(isolated_env, f'sqlite:///{isolated_env}/t.db', url)
    services = await make_services(settings, start=False)
    await asyncio.to_thread(services.db.migrate)
    uid = await add_user(services)

    def orphan(s) -> int:
        user = s.get(User, uid)
        assert user is not None
        # Claimed by a submit of the process that crashed (before its request went out): the claim is no obstacle.
        p = Prompt(user_id=uid, prompt='left behind by a crash', status='PENDING', claim_token='d' * 32)
        s.add(p)
        s.commit()
        return p.id
    pid = await services.db.run(orphan)
    # The row has no job (the queue lost it in the crash): the resume sweep defers its submit step, once.
    assert await services.generation.resume_unfinished() == 1
    assert await services.generation.resume_unfinished() == 0  # its job is waiting now: not deferred twice
    await services.start()
    done = await wait_status(services, pid, {'COMPLETED', 'FAILED'})
    assert done.status == Status.COMPLETED.value


async def test_cancel_after_submit_costs_the_estimate_and_before_submit_nothing(
        fake, make_services, isolated_env: Path, database_url: str) -> None:
    """Issue 13 item 4: cancelling a PROCESSING prompt records its estimate as cost (the provider works and bills
    regardless); cancelling one that was never accepted by the provider records nothing."""
    provider, url = fake
    provider.config.latency_s = 30
    services = await make_services(make_settings(isolated_env, database_url, url))
    uid = await add_user(services)
    submitted = await services.generation.create(uid, validate_request(prompt='two cancelled castles', size=512,
                                                                       num_images=2))
    running = await wait_status(services, submitted.id, {'PROCESSING'})
    assert running.provider_task_id and running.estimated_cost == Decimal('0.010')
    cancelled = await services.generation.cancel(uid, submitted.id)
    stored = await services.db.run(lambda s: s.get(Prompt, submitted.id))
    assert cancelled.cost == stored.cost == Decimal('0.010') and stored.status == 'CANCELLED'

    provider.config.rate_limit_rate = 1.0  # the provider refuses every submit: the prompt stays PENDING
    generate = '/api/v1/nanobanana/generate'
    tries = provider.calls[generate]
    unsent = await services.generation.create(uid, validate_request(prompt='a castle never built'))
    for _ in range(200):  # until the service has tried (and failed) to submit it
        if provider.calls[generate] > tries:
            break
        await asyncio.sleep(0.02)
    assert provider.calls[generate] > tries
    cancelled = await services.generation.cancel(uid, unsent.id)
    stored = await services.db.run(lambda s: s.get(Prompt, unsent.id))
    assert stored.status == 'CANCELLED' and stored.provider_task_id is None
    assert cancelled.cost == stored.cost == 0 and stored.estimated_cost == Decimal('0.0125')
    assert provider.submissions == 1
