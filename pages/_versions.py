"""The lightbox's versions: the lineage strip, edit by instruction, and a compare view (side by side, slider)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from nicegui import background_tasks, ui

from nanogen.errors import NanogenError
from nanogen.generation.edits import Lineage
from nanogen.library.queries import ImageRow
from nanogen.models import Prompt

from ._edit_dialog import EditDialog, edit_estimate
from ._text import set_attr
from .frame import PageContext, notify_error

POLL_S = 0.5  # how often an open lightbox checks whether its edit has finished


class VersionPanel:
    """Built inside the lightbox's side column for `row`; `show(image_id)` opens another version there."""

    def __init__(self, ctx: PageContext, row: ImageRow, show: Callable[[int], Awaitable[None]]) -> None:
        self.ctx = ctx
        self.row = row
        self.show = show
        self.lineage: Lineage | None = None

    async def build(self) -> None:
        edits = self.ctx.services.edits
        if edits is None:
            return
        try:
            self.lineage = await edits.lineage(self.ctx.user.id, self.row.id)
        except NanogenError as exc:
            notify_error(exc.user_message)
            return
        self.strip()
        self.editor()  # any image the viewer may see: the new version is theirs

    def strip(self) -> None:
        lineage = self.lineage
        assert lineage is not None
        count = len(lineage.versions)
        with ui.row().classes('w-full items-center gap-2'):
            ui.label('Versions').classes('font-semibold')
            ui.badge(str(count)).mark('version-count')
            ui.space()
            parent = lineage.chain[-2] if len(lineage.chain) > 1 else None
            if parent is not None:
                ui.button('Compare with parent', icon='compare',
                          on_click=lambda: self.compare(parent, self.row.id)).props('flat dense no-caps').mark(
                    'compare-parent')
        in_chain = set(lineage.chain)
        with ui.row().classes('w-full gap-1 overflow-x-auto no-wrap').mark('version-strip'):
            for version in lineage.versions:
                current = version.image_id == self.row.id
                tile = ui.element('div').classes('shrink-0 cursor-pointer rounded')
                tile.classes('ring-2 ring-primary' if current else 'opacity-100' if version.image_id in in_chain
                             else 'opacity-70')
                with tile.on(
                        'click', lambda v=version.image_id: self.show(v)).mark(f'version-{version.image_id}'):
                    set_attr(ui.image(f'/files/{version.image_id}/thumb').classes('w-16 h-16 rounded'), 'alt',
                             version.instruction)

    def editor(self) -> None:
        with ui.column().classes('w-full gap-1'):
            self.instruction = ui.textarea('Edit by instruction', placeholder='make the sky stormy').props(
                'outlined autogrow dense').classes('w-full').mark('edit-instruction')
            with ui.row().classes('w-full items-center gap-2'):
                ui.button('Edit', icon='edit', on_click=self.submit).props('no-caps').mark('edit-submit')
                ui.button('With references…', icon='add_photo_alternate', on_click=lambda: EditDialog(
                    self.ctx, self.row.id, on_started=self.follow, instruction=self.instruction.value or '').open(
                )).props('flat no-caps').mark('edit-more')
                ui.label(edit_estimate(self.ctx, self.ctx.services.settings.default_model)).classes(
                    'text-sm opacity-80').mark('edit-estimate')
            self.status = ui.label().classes('text-sm opacity-80').mark('edit-status')

    async def submit(self) -> None:
        edits = self.ctx.services.edits
        assert edits is not None
        try:
            prompt = await edits.edit(self.ctx.user.id, self.row.id, self.instruction.value or '')
        except NanogenError as exc:
            self.status.text = exc.user_message
            notify_error(exc.user_message)
            return
        self.follow(prompt)

    def follow(self, prompt: Prompt) -> None:
        """Say the edit is running and open its version here when it is ready."""
        if self.status.is_deleted:
            return
        self.status.text = 'Editing… the new version opens here when it is ready.'
        assert prompt.id is not None
        pid, uid = prompt.id, self.ctx.user.id

        async def check() -> None:
            current = await self.ctx.services.library.get_prompt(uid, pid)
            if current.status == 'COMPLETED' and current.image_id is not None:
                timer.cancel()
                # Not awaited here: showing it rebuilds the lightbox, which deletes this timer and its task.
                background_tasks.create(self.show(current.image_id), name='show edited version')
            elif current.status in ('FAILED', 'CANCELLED'):
                timer.cancel()
                if not self.status.is_deleted:
                    self.status.text = current.error_message or 'The edit failed.'
        timer = ui.timer(POLL_S, check)

    def compare(self, left: int, right: int) -> None:
        """Two versions side by side, and one over the other with a slider that reveals the newer one."""
        with ui.dialog() as dialog, ui.card().classes('w-[90vw] max-w-[1100px]').mark('compare'):
            with ui.row().classes('w-full items-center'):
                ui.label(f'Compare #{left} and #{right}').classes('font-semibold')
                ui.space()
                ui.button(icon='close', on_click=dialog.close).props('flat round').mark('close-compare')
            with ui.tabs().classes('w-full') as tabs:
                side = ui.tab('Side by side').mark('compare-side-tab')
                slide = ui.tab('Slider').mark('compare-slider-tab')
            with ui.tab_panels(tabs, value=side).classes('w-full'):
                with ui.tab_panel(side), ui.row().classes('w-full no-wrap gap-2'):
                    for image_id in (left, right):
                        ui.image(f'/files/{image_id}/image').props('fit=contain').classes('w-1/2').mark(
                            f'compare-image-{image_id}')
                with ui.tab_panel(slide):
                    with ui.element('div').classes('relative w-full'):
                        ui.image(f'/files/{left}/image').props('fit=contain').classes('w-full')
                        top = ui.image(f'/files/{right}/image').props('fit=contain').classes(
                            'w-full absolute top-0 left-0').mark('compare-top')
                    slider = ui.slider(min=0, max=100, value=50).mark('compare-slider')

                    def reveal() -> None:  # a number from the slider only, set as one value: nothing is parsed
                        top.style['clip-path'] = f'inset(0 {100 - int(slider.value)}% 0 0)'
                        top.update()
                    slider.on_value_change(reveal)
                    reveal()
        dialog.open()
