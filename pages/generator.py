"""The generator: write a prompt, add reference images, queue jobs, watch them live, get the images."""

from __future__ import annotations

from nicegui import ui

from ._batch_form import BatchForm
from ._generator_form import MAX_CARDS, PRESET_LABEL, PRESETS, GeneratorForm, JobBoard, preset_prompts
from .frame import PageContext, frame, guarded_page

MAX_REFS = 64  # read no further into a hand-made URL

__all__ = ['MAX_CARDS', 'PRESETS', 'PRESET_LABEL', 'generator_page', 'preset_prompts']


def reference_ids(raw: str) -> list[int]:
    """`?refs=12,15`: the gallery's "Use as references" (anything that is not an id is left out; the library
    checks whose they are)."""
    return [int(part) for part in raw.split(',')[:MAX_REFS] if part.strip().isdigit() and len(part.strip()) < 12]


@guarded_page('/generator', title='Generator', nav='Generate', icon='auto_awesome')
async def generator_page(ctx: PageContext, prompt: str = '', size: str = '1024', ratio: str = '1:1',
                         model: str = '', refs: str = '') -> None:
    board = JobBoard(ctx)
    form = GeneratorForm(ctx, prompt=prompt, size=size, ratio=ratio, model=model or None, on_created=board.add_card,
                         gallery_refs=reference_ids(refs))
    batch = BatchForm(ctx)
    with frame(ctx, 'Generate'):
        with ui.tabs().classes('self-start') as tabs:
            single_tab = ui.tab('single', label='Single').mark('generator-tab-single')
            ui.tab('batch', label='Batch').mark('generator-tab-batch')
        with ui.tab_panels(tabs, value=single_tab).classes('w-full'):
            with ui.tab_panel('single').classes('p-0'):
                with ui.row().classes('w-full gap-6 items-start no-wrap max-md:flex-col'):
                    await form.build()
                    board.build()
            # Built on its first opening: most tabs never show it, and its ~25 elements were a fifth of every
            # generator tab the server holds (issue 18: elements are what a full garbage collection walks).
            batch_panel = ui.tab_panel('batch').classes('p-0')

        def build_batch_once(value: object) -> None:
            if value == 'batch' and not batch_panel.default_slot.children:
                with batch_panel:
                    batch.build()
        tabs.on_value_change(lambda e: build_batch_once(e.value))
        form.wire()
    await board.load()
    board.follow()
