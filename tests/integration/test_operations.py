"""Operations against the contract fake over HTTP: metrics, graceful shutdown, retention, log scrubbing."""

from __future__ import annotations

import asyncio
import json
import logging
from datetime import timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa
from prometheus_client.parser import text_string_to_metric_families
from sqlmodel import select

from nanogen.errors import StorageError
from nanogen.events import EventBus
from nanogen.generation.requests import validate_request
from nanogen.images.storage import LocalStorage
from nanogen.logs import JsonFormatter, ScrubFilter, add_secrets, current_prompt_id, install_record_factory
from nanogen.metrics import Metrics
from nanogen.models import Image, Prompt, utcnow
from tests.conftest import make_settings
from tests.integration.test_generation import add_user, wait_status


def samples(text: bytes) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """Every sample of the exposition, keyed by (name, sorted labels); parsing fails on malformed output."""
    out = {}
    for family in text_string_to_metric_families(text.decode()):
        for s in family.samples:
            out[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return out


async def test_metrics_parse_and_move_when_a_generation_finishes(fake, make_services, isolated_env: Path) -> None:
    _, url = fake
    services = await make_services(make_settings(isolated_env, f'sqlite:///{isolated_env}/t.db', url))
    before = samples(await services.metrics.render())
    assert before[('nanogen_generations_in_flight', ())] == 0
    assert ('nanogen_generations_total', (('status', 'COMPLETED'),)) not in before
    uid = await add_user(services)
    prompt = await services.generation.create(uid, validate_request(prompt='a paper boat', size=1536))
    assert samples(await services.metrics.render())[('nanogen_generations_in_flight', ())] == 1
    done = await wait_status(services, prompt.id, {'COMPLETED', 'FAILED'})
    assert done.status == 'COMPLETED'
    after = samples(await services.metrics.render())
    assert after[('nanogen_generations_total', (('status', 'COMPLETED'),))] == 1
    assert after[('nanogen_generations_total', (('status', 'PENDING'),))] == 1
    assert after[('nanogen_generation_seconds_count', (('status', 'COMPLETED'),))] == 1
    generate = (('endpoint', '/api/v1/nanobanana/generate'),)
    assert after[('nanogen_provider_request_seconds_count', generate)] == 1
    assert after[('nanogen_provider_request_seconds_count', (('endpoint', '/api/v1/nanobanana/record-info'),))] >= 1
    assert after[('nanogen_prompts', (('status', 'COMPLETED'),))] == 1
    assert after[('nanogen_spend_usd_month', ())] == pytest.approx(0.045)
    assert after[('nanogen_generations_in_flight', ())] == 0


async def test_storage_errors_are_counted(tmp_path: Path) -> None:
    (tmp_path / 'not-a-dir').write_text('x')
    storage = LocalStorage(tmp_path / 'not-a-dir')  # every write fails: its root is a file
    from nanogen.db import Database
    db = Database(f'sqlite:///{tmp_path}/m.db')
    metrics = Metrics(db, EventBus(), in_flight=lambda: 0)
    metrics.instrument_storage(storage)
    metrics.instrument_storage(storage)  # twice is harmless: counted once per failure
    with pytest.raises(StorageError):
        await storage.put('users/1/1/0-image.png', b'data', content_type='image/png')
    db.migrate()
    assert samples(await metrics.render())[('nanogen_storage_errors_total', (('op', 'put'),))] == 1
    db.dispose()


async def test_graceful_shutdown_leaves_generations_resumable(fake, make_services, isolated_env: Path) -> None:
    provider, url = fake
    provider.config.latency_s = 2.0
    settings = make_settings(isolated_env, f'sqlite:///{isolated_env}/t.db', url)
    first = await make_services(settings, worker_id='replica-a')
    uid = await add_user(first)
    ids = [(await first.generation.create(uid, validate_request(prompt=f'slow sunset {n}'))).id for n in range(2)]
    for pid in ids:
        await wait_status(first, pid, {'PROCESSING'})
    await first.stop()  # what the app's shutdown hook runs
    rows = await first.db.run(lambda s: list(s.exec(select(Prompt))))
    # Submitted, their task ids saved: the next start polls them (no new submit), whichever execution claims them.
    assert {(p.status, bool(p.provider_task_id), p.submit_attempts) for p in rows} == {('PROCESSING', True, 1)}

    second = await make_services(settings, worker_id='replica-b')  # a restart: picks both up at once
    for pid in ids:
        done = await wait_status(second, pid, {'COMPLETED', 'FAILED'})
        assert done.status == 'COMPLETED', done.error_message
    assert provider.submissions == 2  # resumed, never resubmitted


async def test_retention_removes_old_images_with_their_objects(fake, make_services, isolated_env: Path) -> None:
    _, url = fake
    services = await make_services(make_settings(isolated_env, f'sqlite:///{isolated_env}/t.db', url,
                                                 NANOGEN_RETENTION_DAYS=30))
    uid = await add_user(services)
    old, new = [await wait_status(services, (await services.generation.create(
        uid, validate_request(prompt=f'harbour {n}'))).id, {'COMPLETED'}) for n in range(2)]

    def age(s):
        s.execute(sa.update(Image).where(Image.prompt_id == old.id).values(
            created_at=utcnow() - timedelta(days=31)))
        s.commit()
    await services.db.write(age)
    images = await services.db.run(lambda s: {i.prompt_id: i for i in s.exec(select(Image))})
    old_keys = [images[old.id].key, images[old.id].original_key, images[old.id].thumb_key]
    assert await services.retention.purge_once() == 1
    left = await services.db.run(lambda s: [i.prompt_id for i in s.exec(select(Image))])
    assert left == [new.id]
    assert not any([await services.storage.exists(k) for k in old_keys])
    assert await services.storage.exists(images[new.id].key)
    kept = await services.db.run(lambda s: s.get(Prompt, old.id))
    assert kept is not None and kept.image_id is None and kept.cost > 0  # the cost history stays
    assert await services.retention.purge_once() == 0


async def test_retention_is_off_by_default(fake, make_services, isolated_env: Path) -> None:
    _, url = fake
    services = await make_services(make_settings(isolated_env, f'sqlite:///{isolated_env}/t.db', url))
    assert not services.retention.enabled
    assert await services.retention.purge_once() == 0


def test_json_logs_carry_the_prompt_id_and_no_secret() -> None:
    install_record_factory()
    add_secrets('sk-live-0123456789abcdef')
    logger = logging.getLogger('nanogen.test_logs')

    async def in_a_job() -> logging.LogRecord:
        current_prompt_id.set(42)
        records: list[logging.LogRecord] = []
        handler = logging.Handler()
        handler.emit = records.append  # type: ignore[method-assign]
        logger.addHandler(handler)
        try:
            logger.warning('calling with key %s', 'sk-live-0123456789abcdef')
            logger.warning('explicit %s', 'id', extra={'prompt_id': 7})  # an extra still works and wins
        finally:
            logger.removeHandler(handler)
        return records
    first, second = asyncio.run(in_a_job())
    assert ScrubFilter().filter(first)
    line = json.loads(JsonFormatter().format(first))
    assert line['prompt_id'] == 42 and line['message'] == 'calling with key [redacted]'
    assert json.loads(JsonFormatter().format(second))['prompt_id'] == 7
    assert current_prompt_id.get() is None  # the job's context did not leak
