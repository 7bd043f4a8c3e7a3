"""One generation as a live card on the generator: status, elapsed time, messages, cancel/retry, results."""

from __future__ import annotations

from collections.abc import Callable

from nicegui import ui

from nanogen.errors import NanogenError
from nanogen.models import Prompt, Status

from ._format import STATUS_COLORS, duration, elapsed, money
from .frame import PageContext, notify_error

FAILURE_HINT = 'Change the prompt or settings if the message asks for it, then press Retry.'


class JobCard:
    """Rebuilt from the database whenever its prompt changes, so a missed event cannot leave it wrong."""

    def __init__(self, ctx: PageContext, prompt: Prompt, container: ui.element,
                 on_retried: Callable[[Prompt], None]) -> None:
        self.ctx = ctx
        self.prompt = prompt
        self.on_retried = on_retried
        self.message = ''
        self.images: list[int] = []
        self.elapsed: ui.label | None = None
        with container:
            self.card = ui.card().classes('w-full gap-2').props(f'data-prompt-id={prompt.id}').mark(f'job-{prompt.id}')
        self.card.move(container, target_index=0)
        self.render()

    @property
    def pid(self) -> int:
        assert self.prompt.id is not None
        return self.prompt.id

    def render(self) -> None:
        p = self.prompt
        running = not Status(p.status).finished
        self.card.clear()
        with self.card:
            with ui.row().classes('w-full items-center gap-2'):
                ui.badge(p.status.title(), color=STATUS_COLORS.get(p.status, 'grey')).mark(f'status-{p.id}')
                self.elapsed = ui.label(elapsed(p)).classes('font-mono text-sm opacity-70').mark(f'elapsed-{p.id}')
                if running:
                    ui.spinner(size='sm')
                ui.space()
                cost = p.cost if p.status == Status.COMPLETED.value else p.estimated_cost
                ui.label(f'{p.image_size}px · {p.aspect_ratio} · {p.num_images}× · {money(cost)}').classes(
                    'text-sm opacity-70')
                if running:
                    ui.button('Cancel', icon='close', on_click=self.cancel).props(
                        'flat dense color=negative').mark(f'cancel-{p.id}')
                elif p.status in (Status.FAILED.value, Status.CANCELLED.value):
                    ui.button('Retry', icon='refresh', on_click=self.retry).props('flat dense').mark(f'retry-{p.id}')
            ui.label(p.prompt).classes('text-sm whitespace-pre-wrap break-words')
            if self.message and running:
                ui.label(self.message).classes('text-sm text-info').mark(f'message-{p.id}')
            if p.status == Status.FAILED.value:
                with ui.column().classes('gap-0'):
                    ui.label(p.error_message or 'The generation failed.').classes('text-sm text-negative').mark(
                        f'error-{p.id}')
                    ui.label(FAILURE_HINT).classes('text-xs opacity-70')
            if p.status == Status.COMPLETED.value:
                ui.label(f'Finished in {duration(p.duration_ms)}').classes('text-xs opacity-60')
            if self.images:
                with ui.row().classes('gap-3'):
                    for image_id in self.images:
                        with ui.column().classes('gap-1'):
                            ui.image(f'/files/{image_id}/image').classes('w-56 max-w-full rounded').props(
                                f'alt="{p.prompt[:80]}" data-image-id={image_id}').mark('result-image')
                            with ui.row().classes('gap-1'):
                                ui.button('Download', icon='download', on_click=lambda i=image_id: ui.download(
                                    f'/files/{i}/image?download=true')).props('flat dense')
                                ui.button('Open in gallery', icon='photo_library', on_click=lambda i=image_id:
                                          ui.navigate.to(f'/gallery?image={i}')).props('flat dense')

    async def refresh(self, message: str = '') -> None:
        self.message = message
        self.prompt = await self.ctx.services.library.get_prompt(self.ctx.user.id, self.pid)
        if self.prompt.status == Status.COMPLETED.value:
            self.images = [i.id for i in await self.ctx.services.library.images_of_prompt(self.ctx.user.id, self.pid)
                           if i.id is not None]
        self.render()

    async def cancel(self) -> None:
        try:
            await self.ctx.services.generation.cancel(self.ctx.user.id, self.pid)
        except NanogenError as exc:
            notify_error(exc.user_message)
            return
        ui.notify('Generation cancelled.')

    async def retry(self) -> None:
        try:
            created = await self.ctx.services.generation.retry(self.ctx.user.id, self.pid)
        except NanogenError as exc:
            notify_error(exc.user_message)
            return
        self.on_retried(created)
        ui.notify('Queued again with the same settings.', type='info')

    def tick(self) -> None:
        if self.elapsed is not None and not Status(self.prompt.status).finished:
            self.elapsed.text = elapsed(self.prompt)
