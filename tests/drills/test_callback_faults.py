"""Drill: provider callbacks lost, duplicated, reordered, lying or forged; every result stays correct."""

from __future__ import annotations

import asyncio
import random
from pathlib import Path

import httpx
from fastapi import FastAPI
from sqlmodel import select

from nanogen.models import Image, Status
from nanogen.validation import validate_request
from nanogen.web import build_router, install_error_handlers
from tests.conftest import make_settings
from tests.drills.conftest import add_user, all_prompts, assert_costs, assert_not_double_billed, wait_all_ended
from tests.support.inloop import serve_in_loop

GENERATIONS = 24


async def test_callbacks_lost_duplicated_reordered_and_forged_leave_every_result_correct(
        fake, make_services, isolated_env: Path) -> None:
    provider, url = fake
    provider.config.latency_s, provider.config.send_callbacks = 1.0, False  # the drill delivers callbacks itself
    # Polling only as the slow safety net, so what the callbacks do is what the drill sees.
    settings = make_settings(isolated_env, f'sqlite:///{isolated_env}/drill.db', url, NANOGEN_POLL_INITIAL=4,
                             NANOGEN_POLL_MAX=4, NANOGEN_MAX_CONCURRENT_PER_USER=GENERATIONS)
    services = await make_services(settings, start=False)
    receiver = FastAPI()
    install_error_handlers(receiver)
    receiver.include_router(build_router(services))  # the app's own callback route
    async with serve_in_loop(receiver) as base, httpx.AsyncClient(timeout=10) as http:
        services.settings.public_url = base
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
        # and not believed; the prompt stays PROCESSING.
        lie = {'code': 200, 'msg': 'ok', 'data': {'taskId': rows[ids[2]].provider_task_id,
                                                  'info': {'resultImageUrl': 'http://evil.example/x.png'}}}
        assert (await http.post(cb_url(ids[2]), json=lie)).status_code == 200
        await asyncio.sleep(0.2)
        assert (await all_prompts(services, [ids[2]]))[0].status == Status.PROCESSING.value

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
        assert_costs(services, ended)
        assert_not_double_billed(services, provider, ended)
