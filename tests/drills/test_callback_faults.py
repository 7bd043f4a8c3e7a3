"""Drill: provider callbacks lost, duplicated, reordered, lying or forged; every result stays correct."""

from __future__ import annotations

import asyncio
import random
from pathlib import Path

import httpx
from fastapi import FastAPI
from sqlmodel import select

from nanogen.events import PromptEvent
from nanogen.generation.requests import validate_request
from nanogen.http.callbacks import build_callback_router
from nanogen.http.errors import install_error_handlers
from nanogen.models import Image, Status
from tests.conftest import make_settings
from tests.drills.conftest import add_user, all_prompts, assert_costs, assert_not_double_billed, wait_all_ended
from tests.support.inloop import serve_in_loop

GENERATIONS = 24


async def test_callbacks_lost_duplicated_reordered_and_forged_leave_every_result_correct(
        fake, make_services, isolated_env: Path) -> None:
    provider, url = fake
    provider.config.latency_s, provider.config.send_callbacks = 2.0, False  # the drill delivers callbacks itself
    # Polling only as the slow safety net, so what the callbacks do is what the drill sees.
    settings = make_settings(isolated_env, f'sqlite:///{isolated_env}/drill.db', url, NANOGEN_POLL_INITIAL=4,
                             NANOGEN_POLL_MAX=4, NANOGEN_MAX_CONCURRENT_PER_USER=GENERATIONS)
    services = await make_services(settings, start=False)
    receiver = FastAPI()
    install_error_handlers(receiver)
    receiver.include_router(build_callback_router(services))  # the app's own callback route
    async with serve_in_loop(receiver) as base, httpx.AsyncClient(timeout=10) as http:
        services.settings.public_url = base
        events: list[PromptEvent] = []
        services.bus.subscribe(events.append)
        await services.start()
        uid = await add_user(services)
        ids = [(await services.generation.create(uid, validate_request(prompt=f'harbour at dusk {n}', size=512,
                                                                      num_images=1 + n % 2))).id
               for n in range(GENERATIONS)]
        while not all(r.provider_task_id for r in await all_prompts(services, ids)):
            await asyncio.sleep(0.05)
        rows = {r.id: r for r in await all_prompts(services, ids)}

        def cb_url(pid: int) -> str:
            return services.generation.callback_url(pid)

        # Forged: a bad token is refused (403), a good token naming another prompt's task is unknown (404), a body
        # that is not JSON is a bad request (400). None of them changes anything.
        other = rows[ids[1]].provider_task_id
        fake_body = {'code': 200, 'msg': 'ok', 'data': {'taskId': other, 'info': {'resultImageUrl': 'http://x/y.png'}}}
        assert (await http.post(cb_url(ids[0]).rsplit('/', 1)[0] + '/forged-token', json=fake_body)).status_code == 403
        assert (await http.post(cb_url(ids[0]), json=fake_body)).status_code == 404
        assert (await http.post(cb_url(ids[0]), content=b'{not json')).status_code == 400
        # Early and lying: "success" before the task is done, with an attacker's URL, is checked with record-info
        # (the provider sees the call: polling alone would wait 4 s) and not believed: the prompt ends only once,
        # completed, after the task really ended (checked on the event sequence at the end).
        # The lie is told about the last one submitted, whose task surely still runs.
        liar, record_info = ids[-1], '/api/v1/nanobanana/record-info'
        checks = provider.calls[record_info]
        lie = {'code': 200, 'msg': 'ok', 'data': {'taskId': rows[liar].provider_task_id,
                                                  'info': {'resultImageUrl': 'http://evil.example/x.png'}}}
        assert (await http.post(cb_url(liar), json=lie)).status_code == 200
        for _ in range(100):
            if provider.calls[record_info] > checks:
                break
            await asyncio.sleep(0.02)
        assert provider.calls[record_info] > checks, 'the lying callback was not checked with record-info'
        assert not provider.tasks[rows[liar].provider_task_id or ''].finished  # record-info said: still generating

        await asyncio.sleep(provider.config.latency_s)  # now every task is done at the provider
        deliveries: list[tuple[int, dict]] = []
        for n, pid in enumerate(ids):
            body = provider._callback_body(provider.tasks[rows[pid].provider_task_id or ''])
            if n % 4 == 0:
                continue  # lost: polling must catch it
            if n % 4 == 1:
                deliveries += [(pid, body)] * 3  # duplicated
            elif n % 4 == 2:  # a false failure first, then the truth
                deliveries += [(pid, {'code': 501, 'msg': 'Generation failed', 'data': {
                    'taskId': body['data']['taskId'], 'info': {'resultImageUrl': None}}}), (pid, body)]
            else:
                deliveries.append((pid, body))
        random.Random(8).shuffle(deliveries)  # reordered
        answers = await asyncio.gather(*(http.post(cb_url(pid), json=body) for pid, body in deliveries))
        assert {a.status_code for a in answers} == {200}

        # The lost ones are finished by the polling safety net; the rest by their (confirmed) callbacks.
        ended = await wait_all_ended(services, ids, timeout=30)
        assert [r.status for r in ended] == [Status.COMPLETED.value] * GENERATIONS, [r.error_message for r in ended]
        images = await services.db.run(lambda s: list(s.exec(select(Image).where(Image.user_id == uid))))
        for n, pid in enumerate(ids):  # exactly the images asked for: duplicates stored nothing twice
            assert sorted(i.position for i in images if i.prompt_id == pid) == list(range(1 + n % 2)), pid
        lied_to = [e.status for e in events if e.prompt_id == liar]
        assert lied_to[-1] == Status.COMPLETED.value and Status.FAILED.value not in lied_to, lied_to
        assert lied_to.count(Status.COMPLETED.value) == 1, lied_to
        assert_costs(services, ended)
        assert_not_double_billed(services, provider, ended)
