"""Analytics: your spend and images over time, by size, success rate and speed, for a range of days."""

from __future__ import annotations

from datetime import date, timedelta

from nicegui import ui

from nanogen.events import PromptEvent
from nanogen.models import utcnow
from nanogen.ops import stats

from ._dates import iso_date
from ._format import duration, money
from ._live import on_prompt_events
from .frame import PageContext, frame, guarded_page

DEFAULT_DAYS = 30
MAX_DAYS = 731  # two years of daily points is still a readable chart
QUICK_RANGES = {'7 days': 7, '30 days': 30, '90 days': 90, '1 year': 365}


def parse_range(start: str | None, end: str | None) -> tuple[date, date]:
    """The inclusive range of UTC days the inputs name; ValueError with a message a person can act on."""
    try:
        first = date.fromisoformat(start or '')
        last = date.fromisoformat(end or '')
    except ValueError:
        raise ValueError('Pick both dates (YYYY-MM-DD).') from None
    if first > last:
        raise ValueError('The start date must not be after the end date.')
    if (last - first).days >= MAX_DAYS:
        raise ValueError(f'Pick a range of at most {MAX_DAYS} days.')
    return first, last


def over_time_chart(days: list[stats.DayStat]) -> dict:
    return {
        'tooltip': {'trigger': 'axis'},
        'legend': {'data': ['Spend (USD)', 'Images'], 'top': 0},
        'grid': {'left': 50, 'right': 50, 'top': 50, 'bottom': 30},
        'xAxis': {'type': 'category', 'data': [d.day.isoformat() for d in days]},
        'yAxis': [{'type': 'value', 'name': 'USD'}, {'type': 'value', 'name': 'Images', 'minInterval': 1}],
        'series': [
            # Not smoothed: a spline would curve up and down across days with no spend (which are real zeros).
            {'name': 'Spend (USD)', 'type': 'line', 'smooth': False, 'showSymbol': False,
             'areaStyle': {'opacity': 0.15}, 'data': [float(d.spend) for d in days]},
            {'name': 'Images', 'type': 'bar', 'yAxisIndex': 1, 'data': [d.images for d in days]},
        ],
    }


def by_size_chart(sizes: list[stats.SizeStat]) -> dict:
    return {
        'tooltip': {'trigger': 'axis'},
        'legend': {'data': ['Images', 'Spend (USD)'], 'top': 0},
        'grid': {'left': 50, 'right': 50, 'top': 50, 'bottom': 30},
        'xAxis': {'type': 'category', 'data': [s.label for s in sizes]},
        'yAxis': [{'type': 'value', 'name': 'Images', 'minInterval': 1}, {'type': 'value', 'name': 'USD'}],
        'series': [
            {'name': 'Images', 'type': 'bar', 'data': [s.images for s in sizes]},
            {'name': 'Spend (USD)', 'type': 'bar', 'yAxisIndex': 1, 'data': [float(s.spend) for s in sizes]},
        ],
    }


def show_range(summary: stats.Summary, days: list[stats.DayStat], sizes: list[stats.SizeStat]) -> None:
    """The range's numbers, charts and outcomes (or an empty state), into the current container."""
    with ui.grid().classes('w-full grid-cols-2 md:grid-cols-4 gap-3'):
        for label, value, marker in (
                ('Spend', money(summary.spend_total), 'an-spend'),
                ('Images', str(summary.images_made), 'an-images'),
                ('Success rate', '–' if summary.success_rate is None else f'{summary.success_rate:.0%}',
                 'an-success'),
                ('Average duration', duration(summary.avg_duration_ms), 'an-duration')):
            with ui.card().classes('gap-1'):
                ui.label(label).classes('text-sm opacity-70')
                ui.label(value).classes('text-2xl font-semibold').mark(marker)
    if not sizes:
        with ui.card().classes('w-full items-center py-8').mark('analytics-empty'):
            ui.icon('insights', size='xl').classes('opacity-40')
            ui.label('No generations in this range. Pick a longer range, or generate something.').classes(
                'opacity-70')
            ui.button('Open the generator', on_click=lambda: ui.navigate.to('/generator')).props('flat')
        return
    with ui.card().classes('w-full'):
        ui.label('Spend and images per day').classes('font-semibold')
        ui.echart(over_time_chart(days)).classes('w-full h-72').mark('chart-over-time')
    with ui.row().classes('w-full gap-4 items-stretch max-md:flex-col'):
        with ui.card().classes('grow'):
            ui.label('By size').classes('font-semibold')
            ui.echart(by_size_chart(sizes)).classes('w-full h-64').mark('chart-by-size')
        with ui.card().classes('grow'):
            ui.label('Outcomes').classes('font-semibold')
            ui.table(columns=[{'name': k, 'label': k.title(), 'field': k, 'align': 'right'}
                              for k in ('size', 'prompts', 'images', 'spend')],
                     rows=[{'size': s.label, 'prompts': s.prompts, 'images': s.images,
                            'spend': money(s.spend)} for s in sizes]).props('flat dense').mark('size-table')
            ui.label(f'{summary.completed} completed · {summary.failed} failed · '
                     f'{summary.cancelled} cancelled · {summary.in_flight} running').classes(
                'text-sm opacity-70').mark('an-outcomes')


@guarded_page('/analytics', title='Analytics', nav='Analytics', icon='insights')
async def analytics_page(ctx: PageContext) -> None:
    uid = ctx.user.id
    today = utcnow().date()

    with frame(ctx, 'Analytics'):
        with ui.row().classes('w-full items-end gap-2'):
            start = iso_date(ui.input('From', value=str(today - timedelta(days=DEFAULT_DAYS - 1)))).classes(
                'w-40').mark('range-from')
            end = iso_date(ui.input('To', value=str(today))).classes('w-40').mark('range-to')
            for label, days in QUICK_RANGES.items():
                ui.button(label, on_click=lambda d=days: set_range(d)).props('flat dense no-caps').mark(
                    f'range-{days}')
            ui.label('Days are UTC.').classes('text-xs opacity-60')
        error = ui.label().classes('text-negative text-sm').mark('range-error')
        content = ui.column().classes('w-full gap-4')

    async def render() -> None:
        try:
            first, last = parse_range(start.value, end.value)
        except ValueError as exc:
            error.text = str(exc)
            return
        error.text = ''
        summary = await ctx.services.stats.range_summary(uid, date_from=first, date_to=last)
        days = await ctx.services.stats.daily(uid, date_from=first, date_to=last)
        sizes = await ctx.services.stats.by_size(uid, date_from=first, date_to=last)
        content.clear()
        with content:
            show_range(summary, days, sizes)

    async def set_range(days: int) -> None:
        # Each set_value re-renders; clearing and rebuilding happen without an await between them, so never twice.
        start.set_value(str(today - timedelta(days=days - 1)))
        end.set_value(str(today))

    start.on_value_change(render)
    end.on_value_change(render)
    await render()

    async def on_events(_batch: list[PromptEvent]) -> None:
        await render()
    on_prompt_events(uid, on_events, statuses=('COMPLETED', 'FAILED', 'CANCELLED', 'PENDING'))
