"""The generator: write a prompt, add reference images, queue jobs, watch them live, get the images."""

from __future__ import annotations

from nicegui import ui

from ._generator_form import MAX_CARDS, PRESET_LABEL, PRESETS, GeneratorForm, JobBoard, preset_prompts
from .frame import PageContext, frame, guarded_page

__all__ = ['MAX_CARDS', 'PRESETS', 'PRESET_LABEL', 'generator_page', 'preset_prompts']


@guarded_page('/generator', title='Generator', nav='Generate', icon='auto_awesome')
async def generator_page(ctx: PageContext, prompt: str = '', size: str = '1024', ratio: str = '1:1') -> None:
    board = JobBoard(ctx)
    form = GeneratorForm(ctx, prompt=prompt, size=size, ratio=ratio, on_created=board.add_card)
    with frame(ctx, 'Generate'):
        with ui.row().classes('w-full gap-6 items-start no-wrap max-md:flex-col'):
            await form.build()
            board.build()
        form.wire()
    await board.load()
    board.follow()
