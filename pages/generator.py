"""The generator: write a prompt, queue jobs, watch them live, get the images."""

from __future__ import annotations

from datetime import datetime

from nicegui import ui

from nanogen.config import ASPECT_RATIOS, SIZES
from nanogen.errors import NanogenError
from nanogen.events import PromptEvent
from nanogen.models import Prompt, Status, utcnow
from nanogen.validation import validate_request

from .frame import PageContext, frame, guarded_page, notify_error, user_events

STATUS_COLORS = {'PENDING': 'grey', 'PROCESSING': 'blue', 'COMPLETED': 'positive', 'FAILED': 'negative',
                 'CANCELLED': 'orange'}


def elapsed_text(prompt: Prompt, now: datetime | None = None) -> str:
    end = prompt.completed_at or now or utcnow()
    seconds = max(0, int((end - prompt.created_at).total_seconds()))
    return f'{seconds // 60}:{seconds % 60:02d}'


class JobCard:
    """One generation on the page; rebuilt from the database whenever its status changes."""

    def __init__(self, ctx: PageContext, prompt: Prompt, container: ui.element) -> None:
        self.ctx = ctx
        self.prompt = prompt
        self.message = ''
        with container:
            self.card = ui.card().classes('w-full').props(f'data-prompt-id={prompt.id}')
        self.card.move(container, target_index=0)
        self.render()

    def render(self, images: list[int] | None = None) -> None:
        p = self.prompt
        self.card.clear()
        with self.card:
            with ui.row().classes('w-full items-center gap-2'):
                ui.badge(p.status.title(), color=STATUS_COLORS.get(p.status, 'grey')).mark(f'status-{p.id}')
                self.elapsed = ui.label(elapsed_text(p)).classes('font-mono text-sm opacity-70')
                if not Status(p.status).finished:
                    ui.spinner(size='sm')
                ui.space()
                ui.label(f'{p.image_size}px · {p.aspect_ratio} · ${p.estimated_cost:.4f}').classes('text-sm opacity-70')
                if not Status(p.status).finished:
                    ui.button('Cancel', icon='close', on_click=self.cancel).props('flat dense color=negative')
            ui.label(p.prompt).classes('text-sm whitespace-pre-wrap break-words')
            if self.message and not Status(p.status).finished:
                ui.label(self.message).classes('text-sm text-info')
            if p.status == Status.FAILED.value and p.error_message:
                ui.label(p.error_message).classes('text-sm text-negative')
            if images:
                with ui.row().classes('gap-2'):
                    for image_id in images:
                        with ui.column().classes('gap-1'):
                            ui.image(f'/files/{image_id}/image').classes('w-64 rounded').props(
                                f'alt="{p.prompt[:80]}" data-image-id={image_id}')
                            with ui.row().classes('gap-1'):
                                ui.button('Download', icon='download', on_click=lambda i=image_id: ui.download(
                                    f'/files/{i}/image?download=true')).props('flat dense')
                                ui.button('Open in gallery', icon='photo_library', on_click=lambda i=image_id:
                                          ui.navigate.to(f'/gallery?image={i}')).props('flat dense')

    async def refresh(self, message: str = '') -> None:
        self.message = message
        self.prompt = await self.ctx.services.library.get_prompt(self.ctx.user.id, self.prompt.id or 0)
        images = None
        if self.prompt.status == Status.COMPLETED.value:
            images = [i.id for i in await self.ctx.services.library.images_of_prompt(self.ctx.user.id,
                                                                                      self.prompt.id or 0)
                      if i.id is not None]
        self.render(images)

    async def cancel(self) -> None:
        try:
            await self.ctx.services.generation.cancel(self.ctx.user.id, self.prompt.id or 0)
        except NanogenError as exc:
            notify_error(exc.user_message)
            return
        ui.notify('Generation cancelled.')

    def tick(self) -> None:
        if not Status(self.prompt.status).finished:
            self.elapsed.text = elapsed_text(self.prompt)


@guarded_page('/generator', title='Generator', nav='Generate', icon='auto_awesome')
async def generator_page(ctx: PageContext, prompt: str = '', size: int = 1024, ratio: str = '1:1') -> None:
    settings = ctx.services.settings
    cards: dict[int, JobCard] = {}
    with frame(ctx, 'Generate'):
        with ui.row().classes('w-full gap-6 items-start max-md:flex-col'):
            with ui.card().classes('w-full md:w-[420px] gap-3'):
                text = ui.textarea('Prompt', value=prompt, placeholder='A watercolor fox reading a newspaper…').props(
                    f'outlined autogrow counter maxlength={settings.prompt_max_length}').classes('w-full').mark('prompt')
                size_choice = ui.toggle({s: f'{s}px' for s in SIZES},
                                        value=size if size in SIZES else 1024).props('spread no-caps').mark('size')
                with ui.row().classes('w-full gap-2 no-wrap'):
                    ratio_choice = ui.select(list(ASPECT_RATIOS), value=ratio if ratio in ASPECT_RATIOS else '1:1',
                                             label='Aspect ratio').props('outlined dense').classes('grow').mark('ratio')
                    count = ui.select({1: '1 image', 2: '2 images', 3: '3 images', 4: '4 images'}, value=1,
                                      label='Images').props('outlined dense').classes('grow').mark('count')
                watermark = ui.input('Watermark (optional)').props('outlined dense maxlength=100').classes('w-full').mark(
                    'watermark')
                estimate = ui.label().classes('text-sm opacity-80').mark('estimate')
                error = ui.label().classes('text-negative text-sm').mark('form-error')

                def update_estimate() -> None:
                    cost = settings.price_for(int(size_choice.value)) * int(count.value)
                    estimate.text = f'Estimated cost: ${cost:.4f}'
                for element in (size_choice, count):
                    element.on_value_change(update_estimate)
                update_estimate()
                button = ui.button('Generate', icon='auto_awesome').classes('w-full').props('size=lg').mark('generate')
                ui.label('Ctrl+Enter generates').classes('text-xs opacity-60 self-center')
            jobs = ui.column().classes('grow gap-3 w-full')
            with jobs:
                empty = ui.label('Your generations appear here, live. Write a prompt and press Generate.').classes(
                    'opacity-60')

        async def generate() -> None:
            error.text = ''
            try:
                request = validate_request(prompt=text.value, size=size_choice.value, aspect_ratio=ratio_choice.value,
                                           num_images=int(count.value), watermark=watermark.value or None,
                                           max_prompt_length=settings.prompt_max_length)
            except NanogenError as exc:
                error.text = exc.user_message
                return
            button.props('loading')
            try:
                created = await ctx.services.generation.create(ctx.user.id, request)
            except NanogenError as exc:
                error.text = exc.user_message
                notify_error(exc.user_message)
                return
            finally:
                button.props(remove='loading')
            add_card(created)
            ui.notify('Queued: you can start another while this one runs.', type='info')

        button.on_click(generate)
        text.on('keydown.ctrl.enter', generate)

    def add_card(p: Prompt) -> None:
        if p.id is not None and p.id not in cards:
            empty.set_visibility(False)
            cards[p.id] = JobCard(ctx, p, jobs)

    for p in reversed(await ctx.services.library.recent_prompts(ctx.user.id, limit=8)):
        add_card(p)
    for card in cards.values():
        if card.prompt.status == Status.COMPLETED.value:
            await card.refresh()

    async def on_event(event: PromptEvent) -> None:
        if event.prompt_id not in cards:  # queued from another tab or the API
            add_card(await ctx.services.library.get_prompt(ctx.user.id, event.prompt_id))
        await cards[event.prompt_id].refresh(event.message)

    user_events(ctx.user.id).subscribe(on_event)
    ui.timer(1.0, lambda: [c.tick() for c in cards.values()])
