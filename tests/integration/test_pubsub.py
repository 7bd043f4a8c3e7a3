"""Cross-replica relay over PostgreSQL LISTEN/NOTIFY: events reach the other replica."""

from __future__ import annotations

import asyncio

from nanogen.events import EventBus, PromptEvent
from nanogen.generation.relay import PostgresRelay


async def test_an_event_on_one_replica_reaches_the_other_once(postgres_url: str) -> None:
    bus_a, bus_b = EventBus(), EventBus()
    relay_a = PostgresRelay(postgres_url, bus_a, replica_id='a')
    relay_b = PostgresRelay(postgres_url, bus_b, replica_id='b')
    seen_a: list[PromptEvent] = []
    seen_b: list[PromptEvent] = []
    bus_a.subscribe(seen_a.append)
    bus_b.subscribe(seen_b.append)
    await relay_a.start()
    await relay_b.start()
    try:
        await asyncio.wait_for(asyncio.gather(relay_a.ready.wait(), relay_b.ready.wait()), 5)
        bus_a.publish(PromptEvent(user_id=3, prompt_id=7, status='COMPLETED', message='Done', image_ids=(11, 12)))
        for _ in range(100):
            if seen_b:
                break
            await asyncio.sleep(0.02)
        assert [(e.user_id, e.prompt_id, e.status, e.image_ids, e.relayed) for e in seen_b] == \
            [(3, 7, 'COMPLETED', (11, 12), True)]
        await asyncio.sleep(0.2)
        assert len(seen_a) == 1 and not seen_a[0].relayed  # its own event is not echoed back
    finally:
        await relay_a.stop()
        await relay_b.stop()
