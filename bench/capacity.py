"""Capacity: one app process (2 cores) with 100 tabs / 500 generations in flight, then 200 tabs / 1,000 in flight.

`python -m bench.capacity` runs both levels (`--level 100` or `--level 200` runs one). Each level starts the real
app (`python -m bench.lag_app`: app.py plus an event-loop lag monitor) with the contract fake (its own process) at a
fixed latency, sending callbacks to the app as the real provider does; signs in users (10 tabs each) through the
local sign-in ticket flow; opens browser tabs on /generator (page GET with the session cookie, then NiceGUI's
socket.io connection with the implicit handshake nicegui.js does: engine.io pings answered with pongs, received
messages acked every 3 s, a lost socket reconnected, and counted as a drop); starts the generations through the REST
API; and while they run keeps one user browsing pages. Targets (issue 18): every generation completes, no tab drops,
event-loop lag p99 < 50 ms, page loads p95 < 300 ms, RSS < 400 MB, provider done -> page told p50 < 100 ms and
p99 < 300 ms at that load.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import socketio

from bench.common import percentile, quiet_logs, report, rss_mb, summary_ms, verdict
from nanogen.accounts.guard import LocalSignIn
from tests.drills.app_process import AppProcess
from tests.support.inloop import free_port

T0 = [time.monotonic()]
ackers: set[asyncio.Task[None]] = set()
disconnects: list[tuple[float, str]] = []  # (seconds since the generations started, reason) of each socket drop
dropped_tabs: set[int] = set()  # the tabs that lost their socket at least once
reconnects = [0]
LEVELS = {100: (100, 500, 10), 200: (200, 1000, 20)}  # tabs, generations in flight, users (10 tabs each)
SECRET = 'capacity-bench-secret-key-0123456789abcdef'
PROVIDER_KEY = 'capacity-bench-provider-key'
QUERY_RE = re.compile(r'query:\s*(\{.*?\}),\s*\n', re.S)
FIELD_RE = re.compile(r'["\']?(client_id|next_message_id|implicit_handshake)["\']?\s*:\s*["\']?([\w-]+)')


@contextmanager
def provider_process(latency: float) -> Iterator[str]:
    """The contract fake in its own process, as the real provider is: its image drawing is not the app's load.
    It sends callbacks (to NANOGEN_PUBLIC_URL), so 'provider done -> page told' is the callback path's."""
    port = free_port()
    proc = subprocess.Popen([sys.executable, '-m', 'nanogen.provider.fake', '--port', str(port), '--latency',
                             str(latency), '--credits', '1000000', '--api-key', PROVIDER_KEY],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f'http://127.0.0.1:{port}'
    try:
        for _ in range(300):
            try:
                httpx.get(f'{url}/_fake/stats', timeout=1)
                break
            except httpx.HTTPError:
                time.sleep(0.1)
        yield url
    finally:
        proc.terminate()
        proc.wait(timeout=10)


async def sign_in(base: str, n: int) -> httpx.AsyncClient:
    http = httpx.AsyncClient(base_url=base, timeout=60)
    ticket = LocalSignIn(SECRET, None).ticket(  # type: ignore[arg-type]  # a ticket needs only the key
        f"Bench {n}", f"bench{n}@example.com")
    answer = await http.get('/auth/local', params={'t': ticket, 'redirect_to': '/generator'})
    assert answer.status_code == 303 and 'session' in http.cookies, answer.text[:200]
    return http


async def open_browser(http: httpx.AsyncClient, base: str, received: list[int], tab: int) -> socketio.AsyncClient:
    """What a browser tab does: GET the page, then connect its socket with the ids the page carries. python-engineio
    answers the server's pings with pongs as nicegui.js does; a lost socket reconnects (nicegui.js does too), and
    the loss is counted as a drop."""
    page = await http.get('/generator')
    assert page.status_code == 200, page.status_code
    match = QUERY_RE.search(page.text)
    assert match, 'no socket.io query in the page'
    query = dict(FIELD_RE.findall(match.group(1)))  # the page renders it as a Python/JS literal, not JSON
    query.update(document_id=str(uuid.uuid4()), tab_id=str(uuid.uuid4()), old_tab_id='')
    query['implicit_handshake'] = str(query.get('implicit_handshake', '')).lower()
    sio = socketio.AsyncClient(reconnection=True, reconnection_delay=1, reconnection_delay_max=5)
    connects = [0]

    @sio.event
    async def connect() -> None:
        connects[0] += 1
        if connects[0] > 1:
            reconnects[0] += 1

    @sio.event
    async def disconnect(*reason: Any) -> None:
        if closing:
            return
        disconnects.append((round(time.monotonic() - T0[0], 1), str(reason)))
        dropped_tabs.add(tab)

    state = {'next': int(query.get('next_message_id') or 0), 'acked': -1}

    @sio.on('*')
    async def any_event(event: str, *args: Any) -> None:
        received.append(1)
        if args and isinstance(args[0], dict) and isinstance(args[0].get('_id'), int):
            state['next'] = max(state['next'], args[0]['_id'] + 1)

    async def ack_every_3s() -> None:  # nicegui.js acks what it received every 3 s, so the server prunes its history
        while True:
            await asyncio.sleep(3)
            if sio.connected and state['acked'] < state['next']:
                await sio.emit('ack', {'client_id': query['client_id'], 'next_message_id': state['next']})
                state['acked'] = state['next']

    cookie = '; '.join(f'{k}={v}' for k, v in http.cookies.items())
    qs = '&'.join(f'{k}={v}' for k, v in query.items())
    await sio.connect(f'{base}/?{qs}', socketio_path='/_nicegui_ws/socket.io', transports=['websocket'],
                      headers={'Cookie': cookie}, wait_timeout=30)
    ackers.add(asyncio.create_task(ack_every_3s()))
    return sio


async def browse(http: httpx.AsyncClient, stop: asyncio.Event, times: list[float], failures: list[str],
                 by_path: dict[str, list[float]] | None = None) -> None:
    """One person clicking around while the load runs: page GETs and API reads, timed (also per path)."""
    paths = ['/generator', '/dashboard', '/gallery', '/history', '/api/v1/prompts?limit=50', '/api/v1/images']
    n = 0
    while not stop.is_set():
        path = paths[n % len(paths)]
        started = time.perf_counter()
        answer = await http.get(path)
        times.append(time.perf_counter() - started)
        if by_path is not None:
            by_path.setdefault(path.split('?')[0], []).append(times[-1])
        if answer.status_code >= 400:
            failures.append(f'{path}: {answer.status_code}')
        n += 1
        await asyncio.sleep(0.5)


closing = False  # set when the bench closes the sockets itself (not a drop)


async def overhead(http: httpx.AsyncClient, provider_url: str) -> tuple[list[float], dict[str, Any]]:
    """Provider done (the fake's done_at) -> the COMPLETED event on the app's bus, per task (same monotonic clock);
    and the provider's request counts."""
    told = (await http.get('/debug/told')).json()
    called = (await http.get('/debug/told', params={'mark': 'callback'})).json()
    async with httpx.AsyncClient(timeout=60) as fake:
        stats = (await fake.get(f'{provider_url}/_fake/stats')).json()
    tasks = stats['tasks']
    sent = sum(t['callbacks_sent'] for t in tasks.values())
    callback_after_done = [called[task_id] - task['done_at'] for task_id, task in tasks.items() if task_id in called]
    return ([told[task_id] - task['done_at'] for task_id, task in tasks.items() if task_id in told],
            {'callbacks_sent': sent, **stats['calls'],
             'provider done -> its callback reaches the app': summary_ms(callback_after_done)})


async def run(generations: int, browsers: int, users: int, latency: float, ramp: float, diagnose: bool = False,
              env: dict[str, str] | None = None) -> dict[str, Any]:
    global closing
    closing = False
    disconnects.clear()
    dropped_tabs.clear()
    reconnects[0] = 0
    with tempfile.TemporaryDirectory() as tmp, provider_process(latency) as provider_url:
        app = AppProcess(Path(tmp) / 'data', command=('-m', 'bench.lag_app'), NANOGEN_SECRET_KEY=SECRET,
                         NANOBANANA_API_KEY=PROVIDER_KEY, NANOBANANA_BASE_URL=provider_url,
                         NANOGEN_MAX_CONCURRENT_PER_USER=generations,
                         NANOGEN_API_RATE_PER_MINUTE=100_000, NANOGEN_LOG_LEVEL='WARNING',
                         # --diagnose: print where the loop thread is whenever it is blocked over 100 ms
                         **({'NANOGEN_BENCH_STALLS': '1'} if diagnose else {}), **(env or {}))
        app.settings['NANOGEN_PUBLIC_URL'] = app.url  # the provider's callbacks come here
        await asyncio.to_thread(app.start)
        assert app.proc is not None
        base = app.url
        try:
            clients = [await sign_in(base, n) for n in range(users)]
            received: list[int] = []
            sockets = []
            connect_started = time.perf_counter()
            for n in range(browsers):
                sockets.append(await open_browser(clients[n % users], base, received, n))
            connect_s = time.perf_counter() - connect_started
            await clients[0].get('/debug/lag', params={'reset': True})  # measure the load, not the start-up

            stop = asyncio.Event()
            page_times: list[float] = []
            page_failures: list[str] = []
            page_times_by_path: dict[str, list[float]] = {}
            browsing = asyncio.create_task(browse(clients[0], stop, page_times, page_failures, page_times_by_path))
            rss: list[float] = []
            ids: list[int] = []
            create_times: list[float] = []
            started = T0[0] = time.monotonic()
            for n in range(generations):
                t0 = time.perf_counter()
                answer = await clients[n % users].post('/api/v1/images/generate', json={
                    'prompt': f'capacity bench user {n % users}', 'size': 1024})
                create_times.append(time.perf_counter() - t0)
                assert answer.status_code == 202, answer.text[:300]
                ids.append((n % users, answer.json()['data']['id']))
                rss.append(rss_mb(app.proc.pid))
                await asyncio.sleep(max(0.0, started + ramp * (n + 1) / generations - time.monotonic()))
            in_flight_peak = generations  # all created before the first can finish (ramp < latency)
            pending = dict.fromkeys(ids)
            statuses: dict[str, int] = {}
            not_completed: list[str] = []  # why, for the ones that did not complete
            deadline = time.monotonic() + latency + 600
            connected_samples: list[int] = []
            while pending and time.monotonic() < deadline:
                await asyncio.sleep(2)
                rss.append(rss_mb(app.proc.pid))
                connected_samples.append(sum(1 for s in sockets if s.connected))
                for uid in range(users):
                    page = await clients[uid].get('/api/v1/prompts', params={'limit': 200})
                    for item in page.json()['data']['items']:
                        key = (uid, item['id'])
                        if key in pending and item['status'] in ('COMPLETED', 'FAILED', 'CANCELLED'):
                            pending.pop(key)
                            statuses[item['status']] = statuses.get(item['status'], 0) + 1
                            if item['status'] != 'COMPLETED':
                                not_completed.append(f"{item['status']}: {item.get('error_message')}")
            elapsed = time.monotonic() - started
            stop.set()
            await browsing
            lag = (await clients[0].get('/debug/lag')).json()
            census = (await clients[0].get('/debug/census')).json()  # after the lag: counting stops the loop
            told_stages = (await clients[0].get('/debug/stages')).json()
            told_after, provider_calls = await overhead(clients[0], provider_url)
            if os.environ.get('BENCH_GARBAGE') == '1':  # what the cyclic garbage is (lag_app's /debug/garbage)
                sys.stdout.write(f"garbage at the end: {(await clients[0].get('/debug/garbage')).text}\n")
            connected = sum(1 for s in sockets if s.connected)
            dropped = list(disconnects)  # before our own disconnects below
            closing = True
            for task in ackers:
                task.cancel()
            for s in sockets:
                await s.disconnect()
            for c in clients:
                await c.aclose()
        finally:
            await asyncio.to_thread(app.stop)
            if diagnose:
                log = app.log_tail(2_000_000)
                print(log[log.find('STALL'):][:20000] if 'STALL' in log else 'no stalls over 100 ms')
    told = summary_ms(told_after)
    pages = summary_ms(page_times)
    figures: dict[str, Any] = {
        'generations': generations, 'browsers_connected_at_end': f'{connected}/{browsers}',
        'browsers_connected_min_during_run': min(connected_samples, default=0),
        'tabs_dropped': len(dropped_tabs), 'socket_drops': len(dropped), 'reconnects': reconnects[0],
        'first_socket_drops_at_s': dropped[:3], 'users': users,
        'demo_latency_s': latency, 'created_over_s': ramp, 'peak_in_flight': in_flight_peak,
        'browser_connect_s': round(connect_s, 1), 'socket_messages_received': len(received),
        'outcomes': statuses, 'not_completed': not_completed[:10], 'never_finished': len(pending),
        'all_done_after_s': round(elapsed, 1), 'event_loop_lag': lag, 'gc_census_at_end': census,
        'rss_mb_max': round(max(rss), 1), 'rss_mb_p50': round(percentile(rss, 50), 1),
        'api_generate_request': summary_ms(create_times), 'browsing_page_loads': pages,
        'browsing_failures': page_failures[:10],
        'browsing_page_loads_by_path': {path: summary_ms(t) for path, t in page_times_by_path.items()}, 'provider_done_to_page_told': told,
        'provider_requests': provider_calls, 'provider_done_to_page_told_by_stage': told_stages,
    }
    figures['targets'] = {
        f'every generation completes ({statuses.get("COMPLETED", 0)}/{generations})':
            'PASS' if statuses.get('COMPLETED') == generations else 'MISS',
        f'no tab drops ({len(dropped_tabs)} of {browsers} dropped)': 'PASS' if not dropped_tabs else 'MISS',
        f'event-loop lag p99 < 50 ms (p50 {lag["p50_ms"]}, p99 {lag["p99_ms"]}, max {lag["max_ms"]} ms)':
            verdict(lag['p99_ms'], 50),
        f'page loads p95 < 300 ms (p95 {pages["p95_ms"]}, p99 {pages["p99_ms"]} ms)': verdict(pages['p95_ms'], 300),
        f'RSS < 400 MB (max {max(rss):.0f} MB)': verdict(max(rss), 400),
        f'provider done -> page told p50 < 100 ms ({told["p50_ms"]} ms, n={told["n"]})':
            verdict(told['p50_ms'], 100) if told_after else 'MISS',
        f'provider done -> page told p99 < 300 ms ({told["p99_ms"]} ms)':
            verdict(told['p99_ms'], 300) if told_after else 'MISS',
    }
    return figures


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--level', type=int, choices=sorted(LEVELS), action='append',
                        help='100 (100 tabs, 500 in flight) or 200 (200 tabs, 1,000); default: both, in turn')
    parser.add_argument('--generations', type=int, help='override the level\'s generations in flight')
    parser.add_argument('--browsers', type=int, help='override the level\'s tabs')
    parser.add_argument('--users', type=int, help='override the level\'s users')
    parser.add_argument('--latency', type=float, default=90.0, help='demo provider seconds per task')
    parser.add_argument('--ramp', type=float, default=80.0, help='seconds over which the generations are started')
    parser.add_argument('--diagnose', action='store_true', help='log slow loop callbacks to the app log (slower)')
    parser.add_argument('--env', action='append', default=[], metavar='NAME=VALUE',
                        help='run the app with this setting, e.g. --env NANOGEN_WORKER_CONCURRENCY=50 (repeatable)')
    args = parser.parse_args(argv)
    env = dict(item.split('=', 1) for item in args.env)
    quiet_logs()
    results: dict[str, Any] = {}
    for level in args.level or sorted(LEVELS):
        tabs, generations, users = LEVELS[level]
        figures = asyncio.run(run(args.generations or generations, args.browsers or tabs, args.users or users,
                                  args.latency, args.ramp, args.diagnose, env))
        results[f'level_{level}'] = {**figures, 'runtime_env': env}
        sys.stdout.write(f'--- level {level}: {figures["browsers_connected_at_end"]} tabs at the end, '
                         f'load average {os.getloadavg()}\n'
                         + ''.join(f'{verdict_:4}  {claim}\n' for claim, verdict_ in figures['targets'].items())
                         + '      page loads by path (p50 / p95 ms): ' + '; '.join(
                             f'{path} {t["p50_ms"]} / {t["p95_ms"]}'
                             for path, t in figures['browsing_page_loads_by_path'].items()) + '\n'
                         + '      provider done -> its callback reaches the app (p50 / p99 ms): '
                         + '{p50_ms} / {p99_ms}\n'.format(
                             **figures['provider_requests']['provider done -> its callback reaches the app'])
                         + '      told, by stage (p50 / p99 ms): ' + '; '.join(
                             f'{stage} {t["p50_ms"]} / {t["p99_ms"]}'
                             for stage, t in figures['provider_done_to_page_told_by_stage'].items()) + '\n')
        sys.stdout.flush()
    report('capacity-diagnose' if args.diagnose else 'capacity', results)


if __name__ == '__main__':
    main()
