"""The contract fake of the Nanobanana API: an ASGI app serving as the demo provider and the tests' provider.

Long because: one small ASGI app per endpoint of the contract with its fault injection (latency, failures, rate
limits, 5xx, hangs, malformed answers) reads best in one place; its image drawing is in `fake_images.py`.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import hmac
import json
import logging
import os
import random
import time
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import asdict, dataclass, fields
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from nanogen import pools
from nanogen.config import ASPECT_RATIOS
from nanogen.provider.fake_images import draw_image, task_image

__all__ = ['FakeConfig', 'FakeProvider', 'FakeTask', 'draw_image', 'main']  # draw_image: benches import it here

log = logging.getLogger(__name__)

# Wire values spelled here on purpose rather than imported from the client: the fake is a second reading of the
# contract, so a typo in one side shows up as a failing test instead of agreeing with itself.
TYPES = ('TEXTTOIAMGE', 'IMAGETOIAMGE')
PRO_RATIOS = (*ASPECT_RATIOS, 'auto')
V2_RATIOS = ('1:1', '1:4', '1:8', '2:3', '3:2', '3:4', '4:1', '4:3', '4:5', '5:4', '8:1', '9:16', '16:9', '21:9', 'auto')
# The fake's pixel rule (docs/nanobanana-api.md): the long side by resolution, the other side from the ratio,
# rounded; 'auto' is square. Kept small (the real 4K is larger): drawing is CPU, and the rule is what tests pin.
PRO_LONG_SIDE = {'1K': 1024, '2K': 1536, '4K': 2048}
LONG_SIDE = 1024
CREDITS_PER_IMAGE = 1.0
PRO_CREDITS_PER_IMAGE = 2.0
V2_CREDITS_PER_IMAGE = {'1K': 1.0, '2K': 1.5, '4K': 2.0}
SENSITIVE_MESSAGE = 'The request was blocked: it may contain sensitive content (content policy).'
MAX_TASKS = 10_000  # the demo provider runs for weeks: forget the oldest tasks
FAILURE_CODE = 501
FAILURE_MESSAGE = 'Generation failed: the model could not render this prompt.'


@dataclass
class FakeConfig:
    latency_s: float = 3.0
    latency_jitter_s: float = 0.0
    fail_rate: float = 0.0
    rate_limit_rate: float = 0.0
    error_rate: float = 0.0
    timeout_rate: float = 0.0
    hang_s: float = 30.0
    malformed_rate: float = 0.0
    send_callbacks: bool = True
    callback_shape: str = 'new'  # 'new' (record-info data) or 'old' (data.info.resultImageUrl)
    duplicate_callbacks: bool = False
    inline_base64: bool = False
    api_key: str | None = None
    credits: float = 100.0  # the live balance: submits spend it
    seed: int | None = None
    content_policy_words: tuple[str, ...] = ('forbidden',)
    down_endpoints: tuple[str, ...] = ()  # e.g. ('generate-2',): those answer `down_code` to every submit
    down_code: int = 455  # 455 maintenance (retryable) or 505 feature disabled (final)


@dataclass
class FakeTask:
    task_id: str
    params: dict[str, Any]
    created: float  # on the provider's clock
    done_at: float
    outcome: str  # 'success', 'failed' or 'refused' (generate-2's content-policy refusal, after acceptance)
    base_url: str  # where this task's image URLs point (the submit request's base URL)
    size: tuple[int, int]
    num_images: int
    created_wall: datetime
    callbacks_sent: int = 0
    finished: bool = False  # set once, when the end was first noticed (and callbacks scheduled)
    model: str = 'generate'  # the endpoint: 'generate', 'generate-pro' or 'generate-2'
    file_format: str = 'png'  # generate-2's outputFormat decides ('png' or 'jpg')


def _envelope(code: int, message: str, data: Any = None, *, status: int = 200, key: str = 'msg') -> JSONResponse:
    return JSONResponse({'code': code, key: message, 'data': data}, status_code=status)


def _size_for(ratio: str, long_side: int) -> tuple[int, int]:
    if ratio == 'auto':
        return long_side, long_side
    w, h = (int(part) for part in ratio.split(':'))
    return (long_side, round(long_side * h / w)) if w >= h else (round(long_side * w / h), long_side)


def _is_count(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and 1 <= value <= 4


def _string_list(value: object) -> bool:
    return isinstance(value, list) and all(isinstance(item, str) and item for item in value)


def _validate_generate(body: dict[str, Any]) -> str | None:
    """The first problem the real service would answer 422 for, or None."""
    if not isinstance(body.get('prompt'), str) or not body['prompt'].strip():
        return 'prompt is required'
    if body.get('type', TYPES[0]) not in TYPES:
        return f'type must be one of {", ".join(TYPES)}'
    if not _is_count(body.get('numImages', 1)):
        return 'numImages must be an integer from 1 to 4'
    if body.get('image_size', '1:1') not in ASPECT_RATIOS:
        return f'image_size must be one of {" ".join(ASPECT_RATIOS)}'
    if not isinstance(body.get('callBackUrl'), str) or not body['callBackUrl']:
        return 'callBackUrl is required'
    if 'imageUrls' in body and not _string_list(body['imageUrls']):
        return 'imageUrls must be a list of URLs'
    if body.get('type') == TYPES[1] and not body.get('imageUrls'):
        return 'imageUrls is required for IMAGETOIAMGE'
    if 'watermark' in body and not isinstance(body['watermark'], str):
        return 'watermark must be a string'
    return None


def _validate_pro(body: dict[str, Any]) -> str | None:
    if not isinstance(body.get('prompt'), str) or not body['prompt'].strip():
        return 'prompt is required'
    if 'imageUrls' in body and (not _string_list(body['imageUrls']) or len(body['imageUrls']) > 8):
        return 'imageUrls must be a list of at most 8 URLs'
    if body.get('resolution', '1K') not in PRO_LONG_SIDE:
        return 'resolution must be one of 1K 2K 4K'
    if body.get('aspectRatio', '1:1') not in PRO_RATIOS:
        return f'aspectRatio must be one of {" ".join(PRO_RATIOS)}'
    if not isinstance(body.get('callBackUrl'), str) or not body['callBackUrl']:
        return 'callBackUrl is required'
    return None


def _validate_2(body: dict[str, Any]) -> str | None:
    if not isinstance(body.get('prompt'), str) or not body['prompt'].strip():
        return 'prompt is required'
    if len(body['prompt']) > 20_000:
        return 'prompt must be at most 20000 characters'
    if 'imageUrls' in body and (not isinstance(body['imageUrls'], list) or len(body['imageUrls']) > 14
                                or (body['imageUrls'] and not _string_list(body['imageUrls']))):
        return 'imageUrls must be a list of at most 14 URLs'
    if body.get('resolution', '1K') not in PRO_LONG_SIDE:
        return 'resolution must be one of 1K 2K 4K'
    if body.get('aspectRatio', '1:1') not in V2_RATIOS:
        return f'aspectRatio must be one of {" ".join(V2_RATIOS)}'
    if not isinstance(body.get('googleSearch', False), bool):
        return 'googleSearch must be a boolean'
    if body.get('outputFormat', 'jpg') not in ('png', 'jpg'):
        return 'outputFormat must be png or jpg'
    if 'callBackUrl' in body and not isinstance(body['callBackUrl'], str):  # optional on this endpoint
        return 'callBackUrl must be a URL'
    return None


class FakeProvider:
    """The Nanobanana HTTP API in memory. Task state is computed from elapsed time on each read, so it works
    inside the app through httpx.ASGITransport with no server loop of its own."""

    def __init__(self, config: FakeConfig | None = None, *, clock: Callable[[], float] = time.monotonic) -> None:
        self.config = config or FakeConfig()
        self.submissions = 0
        self.calls: Counter[str] = Counter()
        self.tasks: dict[str, FakeTask] = {}
        self._clock = clock
        self._rng = random.Random(self.config.seed)
        self._deliveries: set[asyncio.Task[None]] = set()  # strong references: the loop keeps only weak ones
        self._http: tuple[asyncio.AbstractEventLoop, httpx.AsyncClient] | None = None  # callbacks; see _client()
        self.app = Starlette(routes=[
            Route('/api/v1/nanobanana/generate', self._guarded(self._generate), methods=['POST']),
            Route('/api/v1/nanobanana/generate-pro', self._guarded(self._generate_pro), methods=['POST']),
            Route('/api/v1/nanobanana/generate-2', self._guarded(self._generate_2), methods=['POST']),
            Route('/api/v1/nanobanana/record-info', self._guarded(self._record_info), methods=['GET']),
            Route('/api/v1/common/credit', self._guarded(self._credit), methods=['GET']),
            Route('/files/{task_id}/{n:int}.png', self._file, methods=['GET']),
            Route('/files/{task_id}/{n:int}.jpg', self._file, methods=['GET']),
            Route('/_fake/config', self._set_config, methods=['POST']),
            Route('/_fake/stats', self._stats, methods=['GET']),
            Route('/_fake/complete/{task_id}', self._complete, methods=['POST']),
        ], lifespan=self._lifespan)

    @contextlib.asynccontextmanager
    async def _lifespan(self, _app: Starlette) -> AsyncIterator[None]:
        yield
        await self.aclose()

    async def aclose(self) -> None:
        """Close the callback client (served stand-alone, the lifespan does this; in-process it may never run)."""
        if self._http is not None:
            loop, client = self._http
            self._http = None
            if loop is asyncio.get_running_loop():
                await client.aclose()

    def _client(self) -> httpx.AsyncClient:
        """One client for all callbacks: a new one per callback costs an SSL context (CA bundle load) each time.
        No keep-alive, so a client never closed (the in-process demo runs no lifespan) holds no socket to leak;
        one per event loop, because a client must not outlive the loop it was used on."""
        loop = asyncio.get_running_loop()
        if self._http is None or self._http[0] is not loop:
            self._http = loop, httpx.AsyncClient(timeout=15.0, limits=httpx.Limits(max_keepalive_connections=0))
        return self._http[1]

    def reset_stats(self) -> None:
        """Zero the counters; tasks stay, so work in flight still completes."""
        self.submissions = 0
        self.calls.clear()

    # --- the API, behind auth and fault injection
    def _guarded(self, handler: Callable[[Request], Awaitable[Response]]) -> Callable[[Request], Awaitable[Response]]:
        async def endpoint(request: Request) -> Response:
            self.calls[request.url.path] += 1
            key = self.config.api_key
            given = request.headers.get('authorization', '')
            if key is not None and not hmac.compare_digest(given.encode(), f'Bearer {key}'.encode()):
                return _envelope(401, 'Unauthorized: invalid API key', status=401)
            cfg = self.config
            await request.body()  # receive it all first (Starlette caches it): a slow service has read the request
            if cfg.timeout_rate and self._rng.random() < cfg.timeout_rate:
                await asyncio.sleep(cfg.hang_s)  # then answer normally: the caller may have given up meanwhile
            roll = self._rng.random()  # one roll, so the rates add up instead of compounding
            if roll < cfg.rate_limit_rate:
                return _envelope(429, 'Too many requests, slow down')
            if roll < cfg.rate_limit_rate + cfg.error_rate:
                return _envelope(500, 'Internal server error', status=500)
            if roll < cfg.rate_limit_rate + cfg.error_rate + cfg.malformed_rate:
                return Response('{"code": 200, "msg": "succ', media_type='application/json')
            return await handler(request)
        return endpoint

    async def _generate(self, request: Request) -> Response:
        body = await _json_object(request)
        problem = 'body must be a JSON object' if body is None else _validate_generate(body)
        if body is None or problem:
            return _envelope(422, f'Validation error: {problem}')
        count = int(body.get('numImages', 1))
        return self._accept(request, body, count, _size_for(body.get('image_size', '1:1'), LONG_SIDE),
                            CREDITS_PER_IMAGE, 'msg')

    async def _generate_pro(self, request: Request) -> Response:
        body = await _json_object(request)
        problem = 'body must be a JSON object' if body is None else _validate_pro(body)
        if body is None or problem:
            return _envelope(422, f'Validation error: {problem}', key='message')
        size = _size_for(body.get('aspectRatio', '1:1'), PRO_LONG_SIDE[body.get('resolution', '1K')])
        return self._accept(request, body, 1, size, PRO_CREDITS_PER_IMAGE, 'message', model='generate-pro')

    async def _generate_2(self, request: Request) -> Response:
        body = await _json_object(request)
        problem = 'body must be a JSON object' if body is None else _validate_2(body)
        if body is None or problem:
            return _envelope(422, f'Validation error: {problem}')
        resolution = body.get('resolution', '1K')
        size = _size_for(body.get('aspectRatio', '1:1'), PRO_LONG_SIDE[resolution])
        return self._accept(request, body, 1, size, V2_CREDITS_PER_IMAGE[resolution], 'msg', model='generate-2')

    def _accept(self, request: Request, body: dict[str, Any], count: int, size: tuple[int, int],
                price: float, key: str, *, model: str = 'generate') -> Response:
        if model in self.config.down_endpoints:
            message = 'Service under maintenance' if self.config.down_code == 455 else 'This feature is disabled'
            return _envelope(self.config.down_code, message, key=key)
        prompt = body['prompt'].lower()
        flagged = any(word.lower() in prompt for word in self.config.content_policy_words)
        if flagged and model != 'generate-2':  # generate-2 accepts, then ends the task refused (successFlag 2)
            return _envelope(400, 'Your prompt was flagged by the content policy.', key=key)
        if self.config.credits < count * price:
            return _envelope(402, 'Insufficient credits', key=key)
        self.config.credits -= count * price
        self.submissions += 1
        now = self._clock()
        cfg = self.config
        latency = max(0.0, cfg.latency_s + self._rng.uniform(0.0, cfg.latency_jitter_s))
        task = FakeTask(task_id=f'fake{self._rng.getrandbits(96):024x}', params=body, created=now,
                        done_at=now + latency, outcome='failed' if self._rng.random() < cfg.fail_rate else 'success',
                        base_url=str(request.base_url), size=size, num_images=count,
                        created_wall=datetime.now(UTC), model=model,
                        file_format='jpg' if model == 'generate-2' and body.get('outputFormat', 'jpg') == 'jpg'
                        else 'png')
        if flagged:
            task.outcome = 'refused'
            self.config.credits += count * price  # a refusal is not billed
        self.tasks[task.task_id] = task
        while len(self.tasks) > MAX_TASKS:
            del self.tasks[next(iter(self.tasks))]
        # Only to push callbacks on time; the state itself never depends on this timer firing.
        asyncio.get_running_loop().call_later(latency + 0.01, self._is_finished, task)
        return _envelope(200, 'success', {'taskId': task.task_id}, key=key)

    async def _record_info(self, request: Request) -> Response:
        task_id = request.query_params.get('taskId', '')
        if not task_id:
            return _envelope(422, 'Validation error: taskId is required')
        task = self.tasks.get(task_id)
        if task is None:
            return _envelope(404, 'Task not found')
        return _envelope(200, 'success', self._record_data(task, str(request.base_url)))

    async def _credit(self, request: Request) -> Response:
        return _envelope(200, 'success', self.config.credits)

    async def _file(self, request: Request) -> Response:
        task = self.tasks.get(request.path_params['task_id'])
        n = request.path_params['n']
        if task is None or not self._is_finished(task) or task.outcome != 'success' or n >= task.num_images:
            return Response('not found', status_code=404)
        # Drawing is Pillow work (tens of ms): in the image workers, so an in-process demo provider never holds the
        # app's loop (or its GIL).
        wanted = request.url.path.rsplit('.', 1)[-1]
        if wanted != task.file_format:
            return Response('not found', status_code=404)
        width, height = task.size
        image = await pools.in_images(task_image, task.params['prompt'], width, height, n, task.file_format)
        return Response(image, media_type='image/jpeg' if task.file_format == 'jpg' else 'image/png')

    # --- task state, computed lazily
    def _is_finished(self, task: FakeTask) -> bool:
        if not task.finished and self._clock() >= task.done_at:
            task.finished = True
            self._schedule_callbacks(task)
        return task.finished

    def _record_data(self, task: FakeTask, base_url: str) -> dict[str, Any]:
        done = self._is_finished(task)
        ok = done and task.outcome == 'success'
        data: dict[str, Any] = {
            'taskId': task.task_id, 'paramJson': json.dumps(task.params),
            'createTime': task.created_wall.strftime('%Y-%m-%d %H:%M:%S'),
            'completeTime': (task.created_wall + timedelta(seconds=task.done_at - task.created)
                             ).strftime('%Y-%m-%d %H:%M:%S') if done else '',
            'response': None, 'successFlag': 0, 'errorCode': 0, 'errorMessage': '',
        }
        if task.model == 'generate-2':  # the newer shape: what was billed, and null error fields unless it failed
            data.update(errorCode=None, errorMessage=None,
                        operationType=f'nano-banana-2_{task.params.get("resolution", "1K").lower()}')
        if ok:
            data['response'] = {'originImageUrl': self._one_or_list(self._urls(task, base_url, origin=True)),
                                'resultImageUrl': self._one_or_list(self._results(task, base_url))}
            data['successFlag'] = 1
        elif done and task.outcome == 'refused':
            data.update(successFlag=2, errorCode=None, errorMessage=SENSITIVE_MESSAGE)
        elif done:
            data.update(successFlag=3, errorCode=FAILURE_CODE, errorMessage=FAILURE_MESSAGE)
        if not ok:
            data.pop('operationType', None)  # nothing is billed until an image is made
        return data

    @staticmethod
    def _one_or_list(items: list[str]) -> str | list[str]:
        return items[0] if len(items) == 1 else items  # the service sends a string for one image

    @staticmethod
    def _urls(task: FakeTask, base_url: str, *, origin: bool = False) -> list[str]:
        suffix = '?origin=1' if origin else ''
        return [f'{base_url.rstrip("/")}/files/{task.task_id}/{n}.{task.file_format}{suffix}'
                for n in range(task.num_images)]

    def _results(self, task: FakeTask, base_url: str) -> list[str]:
        if not self.config.inline_base64:
            return self._urls(task, base_url)
        mime = 'image/jpeg' if task.file_format == 'jpg' else 'image/png'
        return [f'data:{mime};base64,' + base64.b64encode(
            task_image(task.params['prompt'], *task.size, n, task.file_format)).decode()
                for n in range(task.num_images)]

    # --- callbacks
    def _schedule_callbacks(self, task: FakeTask) -> None:
        url = task.params.get('callBackUrl', '')
        if not self.config.send_callbacks or not url.startswith(('http://', 'https://')):
            return
        try:
            delivery = asyncio.get_running_loop().create_task(self._deliver(task, url))
        except RuntimeError:  # no loop (a synchronous caller): nobody could receive it anyway
            return
        self._deliveries.add(delivery)
        delivery.add_done_callback(self._deliveries.discard)

    def _callback_body(self, task: FakeTask) -> dict[str, Any]:
        ok = task.outcome == 'success'
        code, message = ((200, 'Image generated successfully.') if ok else (400, SENSITIVE_MESSAGE)
                         if task.outcome == 'refused' else (FAILURE_CODE, FAILURE_MESSAGE))
        if self.config.callback_shape == 'old':
            results = self._results(task, task.base_url) if ok else []
            return {'code': code, 'msg': message,
                    'data': {'taskId': task.task_id, 'info': {'resultImageUrl': self._one_or_list(results)
                                                              if results else None}}}
        return {'code': code, 'msg': message, 'data': self._record_data(task, task.base_url)}

    async def _deliver(self, task: FakeTask, url: str) -> None:
        body = self._callback_body(task)
        host = httpx.URL(url).host  # never log the whole URL: it carries the app's per-task token
        client = self._client()
        for _ in range(2 if self.config.duplicate_callbacks else 1):
            try:
                await client.post(url, json=body)
                task.callbacks_sent += 1
            except httpx.HTTPError as exc:
                log.warning('fake provider: callback for task %s to %s failed: %s', task.task_id, host,
                            type(exc).__name__)

    # --- test controls
    async def _set_config(self, request: Request) -> Response:
        patch = await _json_object(request)
        known = {f.name for f in fields(FakeConfig)}
        if patch is None or not set(patch) <= known:
            return JSONResponse({'error': f'unknown fields: {sorted(set(patch or {}) - known)}'}, status_code=422)
        for name, value in patch.items():
            setattr(self.config, name, tuple(value) if name in ('content_policy_words', 'down_endpoints') else value)
        if 'seed' in patch:
            self._rng.seed(patch['seed'])
        return JSONResponse(asdict(self.config))

    async def _stats(self, request: Request) -> Response:
        return JSONResponse({'submissions': self.submissions, 'calls': dict(self.calls), 'tasks': {
            t.task_id: {'state': ('generating' if not self._is_finished(t) else t.outcome), 'params': t.params,
                        'callbacks_sent': t.callbacks_sent, 'num_images': t.num_images,
                        'done_at': t.done_at}  # the fake's clock (monotonic): benches in other processes time from it
            for t in self.tasks.values()}})

    async def _complete(self, request: Request) -> Response:
        task = self.tasks.get(request.path_params['task_id'])
        if task is None:
            return JSONResponse({'error': 'unknown task'}, status_code=404)
        if not task.finished:
            outcome = request.query_params.get('outcome', task.outcome)
            task.outcome = outcome if outcome in ('failed', 'refused') else 'success'
            task.done_at = min(task.done_at, self._clock())
        self._is_finished(task)
        return JSONResponse({'taskId': task.task_id, 'state': task.outcome})


async def _json_object(request: Request) -> dict[str, Any] | None:
    try:
        body = json.loads(await request.body())
    except ValueError:
        return None
    return body if isinstance(body, dict) else None


def main(argv: list[str] | None = None) -> None:
    """`python -m nanogen.provider.fake --port N`: serve the fake over HTTP."""
    import uvicorn  # only the stand-alone server needs it

    parser = argparse.ArgumentParser(prog='python -m nanogen.provider.fake', description=__doc__)
    parser.add_argument('--host', default='127.0.0.1')
    parser.add_argument('--port', type=int, default=8765)
    defaults = FakeConfig()
    for name in ('latency_s', 'latency_jitter_s', 'fail_rate', 'rate_limit_rate', 'error_rate', 'timeout_rate',
                 'hang_s', 'malformed_rate', 'credits'):
        flag = '--' + name.removesuffix('_s').replace('_', '-')
        parser.add_argument(flag, dest=name, type=float, default=getattr(defaults, name),
                            metavar='SECONDS' if name.endswith('_s') else 'N', help=f'default {getattr(defaults, name)}')
    parser.add_argument('--no-callbacks', dest='send_callbacks', action='store_false')
    parser.add_argument('--callback-shape', choices=('new', 'old'), default='new')
    parser.add_argument('--duplicate-callbacks', action='store_true')
    parser.add_argument('--inline-base64', action='store_true')
    parser.add_argument('--api-key', default=None)
    parser.add_argument('--seed', type=int, default=None)
    args = vars(parser.parse_args(argv))
    host, port = args.pop('host'), args.pop('port')
    logging.basicConfig(level=logging.INFO)
    # Stand-alone, the fake is the provider: its drawing uses every core it has, as a real service's would.
    pools.configure(pools.PoolSizes(image_workers=os.cpu_count() or 1))
    uvicorn.run(FakeProvider(FakeConfig(**args)).app, host=host, port=port, log_level='info')


if __name__ == '__main__':
    main()
