"""The dashboard: a Generate button, your numbers, your latest images and what is running now, all live."""

from __future__ import annotations

from nicegui import ui

from nanogen import stats
from nanogen.errors import NanogenError
from nanogen.events import PromptEvent
from nanogen.models import Prompt
from nanogen.queries import ImageQuery, list_images

from ._format import STATUS_COLORS, elapsed, money
from .frame import PageContext, frame, guarded_page, notify_error, user_events

RECENT_IMAGES = 6


def stat_card(label: str, value: str, icon: str, marker: str, hint: str = '') -> None:
    with ui.card().classes('gap-1'):
        with ui.row().classes('items-center gap-2 opacity-70'):
            ui.icon(icon)
            ui.label(label).classes('text-sm')
        ui.label(value).classes('text-2xl font-semibold').mark(marker)
        if hint:
            ui.label(hint).classes('text-xs opacity-60')


@guarded_page('/dashboard', title='Dashboard', nav='Dashboard', icon='dashboard')
async def dashboard_page(ctx: PageContext) -> None:
    uid = ctx.user.id
    running: dict[int, tuple[Prompt, ui.label]] = {}
    messages: dict[int, str] = {}

    with frame(ctx, f'Welcome, {ctx.user.name}'):
        with ui.row().classes('w-full items-center gap-4'):
            ui.button('Generate', icon='auto_awesome', on_click=lambda: ui.navigate.to('/generator')).props(
                'size=xl unelevated').classes('px-8').mark('dashboard-generate')
            ui.label('Write a prompt, get images in seconds.').classes('opacity-70')

        @ui.refreshable
        async def cards() -> None:
            s = await stats.summary(ctx.services.db, uid)
            rate = '–' if s.success_rate is None else f'{s.success_rate:.0%}'
            with ui.grid().classes('w-full grid-cols-2 md:grid-cols-5 gap-3'):
                stat_card('Images made', str(s.images_made), 'photo_library', 'stat-images')
                stat_card('Spent this month', money(s.spend_month), 'calendar_month', 'stat-spend-month')
                stat_card('Spent in total', money(s.spend_total), 'payments', 'stat-spend-total')
                stat_card('In flight', str(s.in_flight), 'hourglass_top', 'stat-in-flight')
                stat_card('Success rate', rate, 'verified', 'stat-success',
                          f'{s.completed} done · {s.failed} failed' if s.success_rate is not None else 'nothing yet')

        @ui.refreshable
        async def in_flight() -> None:
            running.clear()
            prompts = await ctx.services.library.recent_prompts(uid, limit=20, unfinished_only=True)
            if not prompts:
                ui.label('Nothing is running right now.').classes('opacity-60').mark('no-in-flight')
                return
            for p in prompts:
                assert p.id is not None
                with ui.card().classes('w-full py-2').mark(f'in-flight-{p.id}'):
                    with ui.row().classes('w-full items-center gap-2 no-wrap'):
                        ui.badge(p.status.title(), color=STATUS_COLORS.get(p.status, 'grey')).mark(f'status-{p.id}')
                        ui.spinner(size='sm')
                        clock = ui.label(elapsed(p)).classes('font-mono text-sm opacity-70')
                        ui.label(p.prompt).classes('text-sm truncate grow')
                        ui.button(icon='close', on_click=lambda pid=p.id: cancel(pid)).props(
                            'flat round dense color=negative').tooltip('Cancel').mark(f'cancel-{p.id}')
                    if messages.get(p.id):
                        ui.label(messages[p.id]).classes('text-xs text-info')
                running[p.id] = (p, clock)

        @ui.refreshable
        async def recent() -> None:
            page = await list_images(ctx.services.db, uid, ImageQuery(), limit=RECENT_IMAGES)
            if not page.items:
                with ui.card().classes('w-full items-center py-8').mark('no-images'):
                    ui.icon('image', size='xl').classes('opacity-40')
                    ui.label('No images yet: your first one is a prompt away.').classes('opacity-70')
                    ui.button('Open the generator', on_click=lambda: ui.navigate.to('/generator')).props('flat')
                return
            with ui.grid().classes('w-full grid-cols-2 sm:grid-cols-3 lg:grid-cols-6 gap-3'):
                for row in page.items:
                    with ui.image(f'/files/{row.id}/thumb').classes('w-full aspect-square rounded-lg cursor-pointer') \
                            .props(f'alt="{row.prompt[:80]}" data-image-id={row.id}').mark('recent-image') \
                            .on('click', lambda i=row.id: ui.navigate.to(f'/gallery?image={i}')):
                        ui.label(row.prompt).classes('absolute-bottom text-xs line-clamp-2 p-2')

        await cards()
        ui.label('In flight').classes('text-lg font-semibold')
        await in_flight()
        with ui.row().classes('w-full items-center'):
            ui.label('Recent images').classes('text-lg font-semibold')
            ui.space()
            ui.link('All images →', '/gallery').classes('text-sm')
        await recent()

    async def cancel(prompt_id: int) -> None:
        try:
            await ctx.services.generation.cancel(uid, prompt_id)
        except NanogenError as exc:
            notify_error(exc.user_message)
            return
        ui.notify('Generation cancelled.')

    async def on_event(event: PromptEvent) -> None:
        # Everything is re-read from the database: a missed event can never leave the page wrong for long.
        messages[event.prompt_id] = event.message
        await cards.refresh()
        await in_flight.refresh()
        if event.status == 'COMPLETED' or event.image_ids:
            await recent.refresh()

    def tick() -> None:
        for prompt, clock in running.values():
            clock.text = elapsed(prompt)

    user_events(uid).subscribe(on_event)
    ui.timer(1.0, tick)
