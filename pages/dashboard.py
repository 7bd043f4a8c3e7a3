"""The dashboard: what you made lately and what is still running."""

from __future__ import annotations

from nicegui import ui

from nanogen.events import PromptEvent
from nanogen.models import Status

from .frame import PageContext, frame, guarded_page, user_events


@guarded_page('/dashboard', title='Dashboard', nav='Dashboard', icon='dashboard')
async def dashboard_page(ctx: PageContext) -> None:
    with frame(ctx, f'Welcome, {ctx.user.name}'):
        ui.button('Generate', icon='auto_awesome', on_click=lambda: ui.navigate.to('/generator')).props('size=lg')

        @ui.refreshable
        async def recent() -> None:
            prompts = await ctx.services.library.recent_prompts(ctx.user.id, limit=6)
            if not prompts:
                ui.label('Nothing here yet: your first image is one prompt away.').classes('opacity-70')
                return
            with ui.grid().classes('w-full grid-cols-2 md:grid-cols-3 gap-3'):
                for p in prompts:
                    with ui.card().classes('p-2'):
                        if p.status == Status.COMPLETED.value and p.image_id:
                            ui.image(f'/files/{p.image_id}/thumb').classes('w-full rounded')
                        ui.label(p.prompt).classes('text-sm line-clamp-2')
                        ui.badge(p.status.title())
        await recent()

    async def on_event(_event: PromptEvent) -> None:
        recent.refresh()
    user_events(ctx.user.id).subscribe(on_event)
