"""The dashboard: a Generate button, your numbers, your latest images and what is running now, all live."""

from __future__ import annotations

from nicegui import ui

from nanogen.errors import NanogenError
from nanogen.events import PromptEvent
from nanogen.models import Prompt, Status
from nanogen.library.queries import ImageQuery

from ._format import STATUS_COLORS, cancelled_notice, elapsed, money
from ._live import on_prompt_events
from ._text import set_attr
from .frame import PageContext, frame, guarded_page, notify_error

RECENT_IMAGES = 6
IN_FLIGHT = 20  # running generations shown; the numbers above count them all


def stat_card(label: str, icon: str, marker: str) -> tuple[ui.label, ui.label]:
    """A number card; returns (value, hint) labels, so live updates set their text instead of rebuilding."""
    with ui.card().classes('gap-1'):
        with ui.row().classes('items-center gap-2 opacity-70'):
            ui.icon(icon)
            ui.label(label).classes('text-sm')
        value = ui.label().classes('text-2xl font-semibold').mark(marker)
        hint = ui.label().classes('text-xs opacity-60')
    return value, hint


class InFlightRow:
    """One running generation: its badge and message change in place; it is removed when it ends."""

    def __init__(self, prompt: Prompt, container: ui.element, on_cancel: object) -> None:
        assert prompt.id is not None
        self.prompt = prompt
        pid = prompt.id
        with container:
            with ui.card().classes('w-full py-2').mark(f'in-flight-{pid}') as self.card:
                with ui.row().classes('w-full items-center gap-2 no-wrap'):
                    self.badge = ui.badge(prompt.status.title(), color=STATUS_COLORS.get(prompt.status, 'grey')).mark(
                        f'status-{pid}')
                    ui.spinner(size='sm')
                    self.clock = ui.label(elapsed(prompt)).classes('font-mono text-sm opacity-70')
                    ui.label(prompt.prompt).classes('text-sm truncate grow')
                    ui.button(icon='close', on_click=lambda: on_cancel(pid)).props(  # type: ignore[operator]
                        'flat round dense color=negative').tooltip('Cancel').mark(f'cancel-{pid}')
                self.message = ui.label().classes('text-xs nanogen-live')
                self.message.set_visibility(False)

    def show(self, status: str, message: str) -> None:
        self.badge.text = status.title()
        self.badge.props['color'] = STATUS_COLORS.get(status, 'grey')
        self.message.text = message
        self.message.set_visibility(bool(message))


@guarded_page('/dashboard', title='Dashboard', nav='Dashboard', icon='dashboard')
async def dashboard_page(ctx: PageContext) -> None:
    uid = ctx.user.id
    client = ui.context.client
    running: dict[int, InFlightRow] = {}
    messages: dict[int, str] = {}

    async def cancel(prompt_id: int) -> None:
        try:
            cancelled = await ctx.services.generation.cancel(uid, prompt_id)
        except NanogenError as exc:
            notify_error(exc.user_message)
            return
        ui.notify(cancelled_notice(cancelled))

    with frame(ctx, f'Welcome, {ctx.user.name}'):
        with ui.row().classes('w-full items-center gap-4'):
            ui.button('Generate', icon='auto_awesome', on_click=lambda: ui.navigate.to('/generator')).props(
                'size=xl unelevated').classes('px-8').mark('dashboard-generate')
            ui.label('Write a prompt, get images in seconds.').classes('opacity-70')

        with ui.grid().classes('w-full grid-cols-2 md:grid-cols-5 gap-3'):
            numbers = {
                'images': stat_card('Images made', 'photo_library', 'stat-images'),
                'month': stat_card('Spent this month', 'calendar_month', 'stat-spend-month'),
                'total': stat_card('Spent in total', 'payments', 'stat-spend-total'),
                'in_flight': stat_card('In flight', 'hourglass_top', 'stat-in-flight'),
                'success': stat_card('Success rate', 'verified', 'stat-success'),
            }

        async def show_numbers() -> None:
            s = await ctx.services.stats.summary(uid)
            if client.is_deleted:
                return
            numbers['images'][0].text = str(s.images_made)
            numbers['month'][0].text = money(s.spend_month)
            numbers['total'][0].text = money(s.spend_total)
            numbers['in_flight'][0].text = str(s.in_flight)
            numbers['success'][0].text = '–' if s.success_rate is None else f'{s.success_rate:.0%}'
            numbers['success'][1].text = (f'{s.completed} done · {s.failed} failed' if s.success_rate is not None
                                          else 'nothing yet')
        for _value, hint in list(numbers.values())[:4]:
            hint.set_visibility(False)

        ui.label('In flight').classes('text-lg font-semibold')
        in_flight = ui.column().classes('w-full gap-2')

        async def show_in_flight() -> None:
            # One read for the list; rows that stay keep their elements, so a burst of events adds and removes
            # cards instead of rebuilding twenty of them per event.
            prompts = await ctx.services.library.recent_prompts(uid, limit=IN_FLIGHT, unfinished_only=True)
            if client.is_deleted:
                return
            wanted = {p.id: p for p in prompts if p.id is not None}
            for pid in [pid for pid in running if pid not in wanted]:
                running.pop(pid).card.delete()
                messages.pop(pid, None)
            for index, (pid, p) in enumerate(wanted.items()):
                row = running.get(pid)
                if row is None:
                    row = running[pid] = InFlightRow(p, in_flight, cancel)
                    row.card.move(in_flight, target_index=index)
                row.prompt = p
                row.show(p.status, messages.get(pid, ''))
            nothing.set_visibility(not running)

        with in_flight:
            nothing = ui.label('Nothing is running right now.').classes('opacity-60').mark('no-in-flight')

        with ui.row().classes('w-full items-center'):
            ui.label('Recent images').classes('text-lg font-semibold')
            ui.space()
            ui.link('All images →', '/gallery').classes('text-sm')

        @ui.refreshable
        async def recent() -> None:
            page = await ctx.services.browse.images(uid, ImageQuery(), limit=RECENT_IMAGES)
            if not page.items:
                with ui.card().classes('w-full items-center py-8').mark('no-images'):
                    ui.icon('image', size='xl').classes('opacity-40')
                    ui.label('No images yet: your first one is a prompt away.').classes('opacity-70')
                    ui.button('Open the generator', on_click=lambda: ui.navigate.to('/generator')).props('flat')
                return
            with ui.grid().classes('w-full grid-cols-2 sm:grid-cols-3 lg:grid-cols-6 gap-3'):
                for row in page.items:
                    thumb = set_attr(ui.image(f'/files/{row.id}/thumb'), 'alt', row.prompt)
                    set_attr(thumb, 'data-image-id', row.id)
                    with thumb.classes('w-full aspect-square rounded-lg cursor-pointer').mark('recent-image') \
                            .on('click', lambda i=row.id: ui.navigate.to(f'/gallery?image={i}')):
                        ui.label(row.prompt).classes('absolute-bottom text-xs line-clamp-2 p-2')

        await show_numbers()
        await show_in_flight()
        await recent()

    async def on_events(batch: list[PromptEvent]) -> None:
        # Status changes and messages of shown rows need no database; new or ended generations change the list and
        # the numbers: one read each per batch, not per event.
        list_changed = numbers_changed = False
        for event in batch:
            finished = Status(event.status).finished
            if finished:
                messages.pop(event.prompt_id, None)
            else:
                messages[event.prompt_id] = event.message
            row = running.get(event.prompt_id)
            if row is not None and not finished:
                row.show(event.status, event.message)
            else:
                list_changed = list_changed or row is not None or not finished
                numbers_changed = True
        if numbers_changed:
            await show_numbers()
        if list_changed and not client.is_deleted:
            await show_in_flight()
        if not client.is_deleted and any(e.status == Status.COMPLETED.value and e.image_ids for e in batch):
            await recent.refresh()

    def tick() -> None:
        for row in running.values():
            row.clock.text = elapsed(row.prompt)

    on_prompt_events(uid, on_events)
    ui.timer(1.0, tick)
