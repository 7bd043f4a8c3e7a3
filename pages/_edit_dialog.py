"""The edit-by-instruction dialog, opened from a generator result, a gallery tile or the lightbox: an instruction,
a model, and optional extra references (uploads, or gallery images picked without downloading them)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from nicegui import events, ui

from nanogen.errors import NanogenError
from nanogen.generation.catalogue import ModelSpec, estimate, model_spec, offered_models
from nanogen.images.references import MAX_UPLOAD_BYTES
from nanogen.library.queries import ImageQuery, ImageRow
from nanogen.models import Prompt

from ._format import money
from ._text import set_attr
from .frame import PageContext, notify_error

PICKER_PAGE = 48  # gallery images the picker lists per page


def extras_allowed(spec: ModelSpec) -> int:
    """More references an edit with `spec` takes besides the image itself."""
    return max(0, spec.max_references - 1)


def edit_estimate(ctx: PageContext, model: str) -> str:
    """What an edit costs before it is sent: one image at the request's defaults, priced as the generator prices."""
    return f'Estimated cost: {money(estimate(ctx.services.settings, model))}'


def compose(ctx: PageContext, image_ids: list[int]) -> None:
    """Open the generator with these gallery images as its references (the form says if the model takes fewer)."""
    most = max(spec.max_references for spec in offered_models(ctx.services.settings))
    if len(image_ids) > most:
        notify_error(f'Use at most {most} images as references; you selected {len(image_ids)}.')
        return
    ui.navigate.to('/generator?refs=' + ','.join(map(str, image_ids)))


class EditDialog:
    """One dialog per click; `on_started` gets the new generation (a job card, a lightbox that follows it...)."""

    def __init__(self, ctx: PageContext, image_id: int, *, on_started: Callable[[Prompt], Any],
                 instruction: str = '') -> None:
        self.ctx = ctx
        self.image_id = image_id
        self.on_started = on_started
        self.initial = instruction
        self.picked: list[int] = []  # other gallery images, by id: the server copies them, nobody downloads them
        self.uploads: list[tuple[str, bytes]] = []
        self.busy = False

    @property
    def spec(self) -> ModelSpec:
        return model_spec(self.ctx.services.settings, self.model.value)

    def open(self) -> None:
        settings = self.ctx.services.settings
        with ui.dialog() as self.dialog, ui.card().classes('w-[600px] max-w-full gap-2').mark('edit-dialog'):
            with ui.row().classes('w-full items-center no-wrap gap-3'):
                set_attr(ui.image(f'/files/{self.image_id}/thumb').classes('w-16 h-16 rounded shrink-0'), 'alt',
                         'the image to edit')
                ui.label(f'Edit image #{self.image_id} by instruction').classes('font-semibold')
                ui.space()
                ui.button(icon='close', on_click=self.dialog.close).props('flat round dense').mark('edit-close')
            self.instruction = ui.textarea('Instruction', value=self.initial,
                                           placeholder='put this logo on the mug').props(
                'outlined autogrow dense').classes('w-full').mark('edit-dialog-instruction')
            self.model = ui.select({s.id: s.name for s in offered_models(settings)}, value=settings.default_model,
                                   label='Model', on_change=self.show_chosen).props('outlined dense').classes(
                'w-full').mark('edit-model')
            self.limit = ui.label().classes('text-xs opacity-70').mark('edit-limit')
            self.estimate = ui.label().classes('text-sm opacity-80').mark('edit-dialog-estimate')
            with ui.row().classes('w-full items-center gap-2'):
                ui.button('Pick from gallery', icon='photo_library', on_click=self.open_picker).props(
                    'flat no-caps').mark('edit-pick')
                self.upload = ui.upload(multiple=True, auto_upload=True, max_file_size=MAX_UPLOAD_BYTES,
                                        label='Upload references').props('accept=image/* flat bordered').classes(
                    'grow').mark('edit-upload')
                self.upload.on_upload(self.on_upload)
                self.upload.on_rejected(lambda: self.say(
                    f'That file is too large: the limit is {MAX_UPLOAD_BYTES // (1024 * 1024)} MB.'))
            self.chosen = ui.row().classes('w-full gap-2').mark('edit-chosen')
            self.error = ui.label().classes('text-sm text-negative').mark('edit-error')
            with ui.row().classes('w-full justify-end gap-2'):
                ui.button('Cancel', on_click=self.dialog.close).props('flat no-caps')
                ui.button('Edit', icon='edit', on_click=self.submit).props('no-caps').mark('edit-dialog-submit')
        self.show_chosen()
        self.dialog.open()

    def say(self, text: str) -> None:
        self.error.text = text

    def room(self) -> int:
        return extras_allowed(self.spec) - len(self.picked) - len(self.uploads)

    def show_chosen(self) -> None:
        spec = self.spec
        self.estimate.text = edit_estimate(self.ctx, spec.id)
        used = len(self.picked) + len(self.uploads)
        self.limit.text = (f'{spec.name} takes the image and up to {extras_allowed(spec)} more reference images '
                           f'({used} chosen).')
        if used > extras_allowed(spec):
            self.say(f'{spec.name} takes at most {extras_allowed(spec)} more reference images: remove '
                     f'{used - extras_allowed(spec)}, or choose a model that takes more.')
        elif self.error.text.startswith(spec.name) or 'more reference images' in self.error.text:
            self.say('')
        self.chosen.clear()
        with self.chosen:
            for image_id in self.picked:
                with ui.image(f'/files/{image_id}/thumb').classes('w-16 h-16 rounded').props('fit=cover').mark(
                        f'edit-picked-{image_id}'):
                    ui.button(icon='close', on_click=lambda i=image_id: self.unpick(i)).props(
                        'round dense size=xs color=negative').classes('absolute top-0 right-0').mark(
                        f'edit-unpick-{image_id}')
            for n, (name, _data) in enumerate(self.uploads):
                with ui.row().classes('items-center gap-1 no-wrap').mark('edit-uploaded'):
                    ui.icon('upload_file')
                    ui.label(name).classes('text-xs max-w-[10rem] truncate')
                    ui.button(icon='close', on_click=lambda k=n: self.drop_upload(k)).props(
                        'flat round dense size=xs color=negative')

    def unpick(self, image_id: int) -> None:
        self.picked = [i for i in self.picked if i != image_id]
        self.show_chosen()

    def drop_upload(self, n: int) -> None:
        del self.uploads[n]
        self.show_chosen()

    async def on_upload(self, e: events.UploadEventArguments) -> None:
        name = e.file.name or 'the file'
        if self.room() <= 0:
            self.say(f'{name}: {self.spec.name} takes at most {extras_allowed(self.spec)} more reference images.')
        else:
            self.uploads.append((name, await e.file.read()))
            self.say('')
        self.upload.reset()
        self.show_chosen()

    # ------------------------------------------------------------------ picking gallery images
    async def open_picker(self) -> None:
        picker = GalleryPicker(self.ctx, exclude=self.image_id, already=self.picked, room=lambda: self.room(),
                               on_done=self.picked_from_gallery, model_name=self.spec.name,
                               limit=extras_allowed(self.spec))
        await picker.open()

    def picked_from_gallery(self, ids: list[int]) -> None:
        self.picked = list(dict.fromkeys([*self.picked, *ids]))
        self.show_chosen()

    async def submit(self) -> None:
        if self.busy:
            return
        edits = self.ctx.services.edits
        if edits is None:
            self.say('Editing is not available on this server.')
            return
        self.busy = True
        try:
            prompt = await edits.edit(self.ctx.user.id, self.image_id, self.instruction.value or '',
                                      reference_image_ids=list(self.picked), uploads=[d for _n, d in self.uploads],
                                      model=self.model.value)
        except NanogenError as exc:
            self.say(exc.user_message)
            notify_error(exc.user_message)
            return
        finally:
            self.busy = False
        self.dialog.close()
        ui.notify(f'Editing image #{self.image_id}: the new version is a generation of its own.', type='info')
        self.on_started(prompt)


class GalleryPicker:
    """The user's gallery images (the library's own listing: nobody else's), picked by checkbox."""

    def __init__(self, ctx: PageContext, *, exclude: int, already: list[int], room: Callable[[], int],
                 on_done: Callable[[list[int]], None], model_name: str, limit: int) -> None:
        self.ctx = ctx
        self.exclude = exclude
        self.already = set(already)
        self.room = room
        self.on_done = on_done
        self.model_name = model_name
        self.limit = limit
        self.chosen: list[int] = []
        self.cursor: str | None = None

    async def open(self) -> None:
        with ui.dialog() as self.dialog, ui.card().classes('w-[720px] max-w-full gap-2').mark('picker'):
            with ui.row().classes('w-full items-center'):
                ui.label('Pick gallery images as references').classes('font-semibold')
                ui.space()
                ui.button(icon='close', on_click=self.dialog.close).props('flat round dense')
            self.search = ui.input('Search prompts', on_change=self.reload).props(
                'outlined dense clearable debounce=350').classes('w-full').mark('picker-search')
            self.message = ui.label().classes('text-sm').mark('picker-message')
            self.grid = ui.element('div').classes('w-full grid gap-2 grid-cols-3 sm:grid-cols-4').mark('picker-grid')
            self.more = ui.button('Load more', on_click=self.load).props('flat no-caps').mark('picker-more')
            with ui.row().classes('w-full justify-end'):
                self.done = ui.button('Use selected', icon='check', on_click=self.finish).props('no-caps').mark(
                    'picker-done')
        self.dialog.open()
        await self.reload()

    async def reload(self) -> None:
        self.grid.clear()
        self.cursor = None
        await self.load()

    async def load(self) -> None:
        query = ImageQuery(search=(self.search.value or '').strip() or None)
        try:
            page = await self.ctx.services.library.images(self.ctx.user.id, query, cursor=self.cursor,
                                                         limit=PICKER_PAGE)
        except NanogenError as exc:
            self.message.text = exc.user_message
            return
        with self.grid:
            for row in page.items:
                if row.id != self.exclude and row.id not in self.already:
                    self.tile(row)
        self.cursor = page.next_cursor
        self.more.set_visibility(page.next_cursor is not None)
        self.show_count()

    def tile(self, row: ImageRow) -> None:
        with ui.element('div').classes('relative aspect-square rounded overflow-hidden bg-gray-200'):
            set_attr(ui.image(f'/files/{row.id}/thumb').props('fit=cover loading=lazy no-spinner'), 'alt',
                     row.prompt).classes('w-full h-full')
            ui.checkbox(value=row.id in self.chosen, on_change=lambda e, i=row.id: self.choose(i, bool(e.value))).props(
                'dense').classes('absolute top-1 left-1 bg-white/70 rounded').mark(f'pick-{row.id}')

    def choose(self, image_id: int, value: bool) -> None:
        if value and image_id not in self.chosen:
            self.chosen.append(image_id)
        elif not value and image_id in self.chosen:
            self.chosen.remove(image_id)
        self.show_count()

    def over(self) -> int:
        return len(self.chosen) - self.room()

    def show_count(self) -> None:
        over = self.over()
        if over > 0:
            self.message.text = (f'{self.model_name} takes at most {self.limit} more reference images: unselect '
                                 f'{over}.')
            self.message.classes(replace='text-sm text-negative')
        else:
            self.message.text = f'{len(self.chosen)} selected; room for {self.room() - len(self.chosen)} more.'
            self.message.classes(replace='text-sm opacity-70')
        self.done.set_enabled(over <= 0)

    def finish(self) -> None:
        if self.over() > 0:
            return
        self.dialog.close()
        self.on_done(list(self.chosen))
