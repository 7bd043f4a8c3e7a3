"""The generator page's parts: the form (prompt, options, reference images, Generate) and the board of job cards."""

from __future__ import annotations

import contextlib
from collections.abc import Callable

from nicegui import background_tasks, events, ui

from nanogen.errors import NanogenError
from nanogen.events import PromptEvent
from nanogen.generation.requests import TOO_LONG_PREFIX, prompt_length_error, validate_request
from nanogen.images.references import MAX_UPLOAD_BYTES, Reference
from nanogen.models import Prompt, Status

from ._format import money
from ._free import weak
from ._job_card import JobCard
from ._live import burst, on_prompt_events, shared_read
from ._model_options import ModelOptions
from .budget_widgets import budget_label
from .frame import PageContext, notify_error

PRESETS = 6
MAX_CARDS = 8  # job cards one tab keeps (each was ~60 KB as NiceGUI elements; one element each since issue 18's card)
PRESET_LABEL = 24


def preset_prompts(prompts: list[Prompt], limit: int = PRESETS) -> list[str]:
    """The user's most recent distinct prompt texts, newest first."""
    seen: list[str] = []
    for p in prompts:
        if p.prompt not in seen:
            seen.append(p.prompt)
        if len(seen) == limit:
            break
    return seen


class ReferencePicker:
    """The reference-images expansion: upload (at most the chosen model's limit), preview and remove."""

    def __init__(self, ctx: PageContext, refs: list[Reference], limit: Callable[[], int],
                 model_name: Callable[[], str] = lambda: 'This model') -> None:
        self.ctx = ctx
        self.references = ctx.services.references
        self.refs = refs  # shared with the form, which sends their URLs
        self.limit = limit
        self.model_name = model_name
        self.over: ui.label | None = None

    def build(self) -> None:
        with ui.expansion('Reference images (image-to-image)', icon='add_photo_alternate').classes(
                'w-full').props('dense'):
            references = self.references
            if references is None or not references.available:
                reason = references.unavailable_reason if references else 'Reference images are not set up.'
                ui.label(reason).classes('text-sm text-warning').mark('references-unavailable')
                return
            ui.label(f"Up to the model's limit (4 Nano Banana, 8 Pro, 14 Nano Banana 2) of PNG, JPEG, WebP or GIF "
                     f'images, {MAX_UPLOAD_BYTES // (1024 * 1024)} MB each.').classes('text-xs opacity-70')
            if self.ctx.services.demo_mode:
                ui.label('The demo provider ignores reference images.').classes('text-xs opacity-70')
            self.upload = ui.upload(multiple=True, auto_upload=True, max_file_size=MAX_UPLOAD_BYTES,
                                    label='Add reference images').props('accept=image/* flat bordered').classes(
                'w-full').mark('reference-upload')
            self.error = ui.label().classes('text-sm text-negative').mark('reference-error')
            self.over = ui.label().classes('text-sm text-negative').mark('reference-over')
            self.previews = ui.row().classes('gap-2')
            self.upload.on_upload(self.on_upload)
            self.upload.on_rejected(lambda: setattr(self.error, 'text', (
                f'That file is too large: the limit is {MAX_UPLOAD_BYTES // (1024 * 1024)} MB.')))

    def check_limit(self) -> None:
        """Say so above the previews when the chosen model takes fewer references than are chosen."""
        if self.over is None:
            return
        extra = len(self.refs) - self.limit()
        self.over.text = '' if extra <= 0 else (
            f'{len(self.refs)} reference images chosen; {self.model_name()} takes at most {self.limit()}: remove '
            f'{extra}, or choose a model that takes more.')

    def show_previews(self) -> None:
        self.check_limit()
        self.previews.clear()
        with self.previews:
            for ref in self.refs:
                with ui.image(ref.preview).classes('w-20 h-20 rounded').props('fit=cover').mark('reference-preview'):
                    ui.button(icon='close', on_click=lambda r=ref: self.remove(r)).props(
                        'round dense size=xs color=negative').classes('absolute top-0 right-0').mark(
                        'reference-remove')

    async def remove(self, ref: Reference) -> None:
        assert self.references is not None
        self.refs.remove(ref)
        self.show_previews()
        with contextlib.suppress(NanogenError):  # an orphaned reference costs a few kilobytes; they asked to drop it
            await self.references.discard(self.ctx.user.id, ref.key)

    async def on_upload(self, e: events.UploadEventArguments) -> None:
        assert self.references is not None
        name = e.file.name or 'the file'
        if len(self.refs) >= self.limit():
            self.error.text = f'{name}: use at most {self.limit()} reference images.'
            return
        try:
            ref = await self.references.save(self.ctx.user.id, await e.file.read())
        except NanogenError as exc:
            self.error.text = f'{name}: {exc.user_message}'
            notify_error(self.error.text)
            return
        self.error.text = ''
        self.refs.append(ref)
        self.show_previews()
        self.upload.reset()


class GeneratorForm:
    """The left card: prompt (length checked live), presets, size, ratio, count, watermark, references, Generate."""

    def __init__(self, ctx: PageContext, *, prompt: str, size: str, ratio: str, model: str | None = None,
                 on_created: Callable[[Prompt], None], gallery_refs: list[int] | None = None) -> None:
        self.ctx = ctx
        self.settings = ctx.services.settings
        self.uid = ctx.user.id
        self.initial = prompt
        # The parts this form holds get its methods weakly (pages/_free.py): no cycle keeps a closed tab's form.
        self.options = ModelOptions(self.settings, size=size, ratio=ratio, model=model,
                                    on_change=weak(self.update_estimate))
        self.on_created = on_created
        self.refs: list[Reference] = []
        self.gallery_refs = gallery_refs or []  # compose: gallery images the form starts with as references
        self.picker: ReferencePicker | None = None
        self.too_long: str | None = None  # the prompt's length message, refreshed on every change
        self.busy = False  # set from the first click until the prompt is recorded: a double click queues one job
        self.presets_box: ui.element | None = None

    async def build(self) -> None:
        prompt = self.initial
        with ui.card().classes('w-full md:w-[440px] md:shrink-0 gap-3'):
            self.text = ui.textarea('Prompt', value=prompt, placeholder='A watercolor fox reading a newspaper…').props(
                'outlined autogrow autofocus').classes('w-full').mark('prompt')
            # No maxlength: the browser would silently cut a pasted prompt. The validation decides, live.
            self.counter = ui.label().classes('text-xs self-end -mt-2').mark('prompt-counter')
            await self.presets()
            self.options.build()
            self.watermark = ui.input('Watermark (optional)').props('outlined dense maxlength=100 counter').classes(
                'w-full').mark('watermark')
            self.picker = ReferencePicker(self.ctx, self.refs, weak(self.max_references), weak(self.model_name))
            self.picker.build()
            self.estimate = ui.label().classes('text-sm opacity-80').mark('estimate')
            await budget_label(self.ctx)  # what is left of this month's budget, kept current
            self.error = ui.label().classes('text-negative text-sm').mark('form-error')
            self.update_estimate()
            self.button = ui.button('Generate', icon='auto_awesome').classes('w-full').props('size=lg').mark(
                'generate')
            self.text.on_value_change(self.check_length)
            ui.label('Ctrl+Enter generates · several can run at once').classes('text-xs opacity-60 self-center')
        await self.add_gallery_refs()

    async def add_gallery_refs(self) -> None:
        """Compose: the gallery images chosen there become this form's references (copied on the server)."""
        edits = self.ctx.services.edits
        if not self.gallery_refs or edits is None or self.picker is None:
            return
        try:
            self.refs += await edits.gallery_references(self.uid, self.gallery_refs)
        except NanogenError as exc:
            self.error.text = exc.user_message
            return
        self.picker.show_previews()

    def wire(self) -> None:
        self.button.on_click(self.generate)
        self.text.on('keydown.ctrl.enter', self.generate)  # the same guarded handler
        self.check_length()

    async def presets(self) -> None:
        """The recent prompts as one-click chips: the first call places them, later calls rebuild them there. Not a
        ui.refreshable_method: its class-wide list of targets held every closed tab's form until the next call."""
        if self.presets_box is None:
            self.presets_box = ui.element().classes('w-full')
        recent = preset_prompts(await self.ctx.services.library.recent_prompts(self.uid, limit=40))
        self.presets_box.clear()  # read first, then clear and build with no await between
        if not recent:
            return
        with self.presets_box, ui.row().classes('w-full gap-1 items-center'):
            ui.icon('history', size='xs').classes('opacity-60').tooltip('Your recent prompts')
            for p in recent:
                short = p if len(p) <= PRESET_LABEL else p[:PRESET_LABEL - 1] + '…'
                ui.chip(short, on_click=lambda p=p: self.text.set_value(p)).props(
                    'dense clickable outline color=primary').tooltip(p).mark('preset')

    def max_references(self) -> int:
        return self.options.max_references

    def model_name(self) -> str:
        return self.options.spec.name

    def update_estimate(self) -> None:
        self.estimate.text = f'Estimated cost: {money(self.options.estimate())}'
        if self.picker is not None:  # a model change may put the chosen references over its limit
            self.picker.check_limit()

    def check_length(self) -> None:
        value = self.text.value or ''
        self.too_long = prompt_length_error(value, self.settings.prompt_max_length)
        self.counter.text = f'{len(value.strip())} / {self.settings.prompt_max_length}'
        self.counter.classes(replace='text-xs self-end -mt-2 text-negative' if self.too_long else
                             'text-xs self-end -mt-2 opacity-60')
        if self.too_long:
            self.error.text = self.too_long
        elif self.error.text.startswith(TOO_LONG_PREFIX):
            self.error.text = ''
        self.button.set_enabled(not self.too_long and not self.busy)

    async def generate(self) -> None:
        if self.busy:
            return
        self.busy = True
        self.button.props('loading')
        self.button.disable()
        try:
            await self.submit()
        finally:
            self.busy = False
            self.button.props(remove='loading')
            self.check_length()

    async def submit(self) -> None:
        self.error.text = ''
        references = self.ctx.services.references
        try:
            urls = [await references.url_for(self.uid, r.key) for r in self.refs] if references else []
            request = validate_request(prompt=self.text.value, watermark=self.watermark.value or None,
                                       reference_urls=urls, max_prompt_length=self.settings.prompt_max_length,
                                       settings=self.settings, **self.options.request_fields())
        except NanogenError as exc:
            self.error.text = exc.user_message
            return
        try:
            created = await self.ctx.services.generation.create(self.uid, request)
        except NanogenError as exc:
            self.error.text = exc.user_message
            notify_error(exc.user_message)
            return
        self.on_created(created)  # the new card at the top is the feedback: no toast on every submit
        background_tasks.create(self.presets(), name='recent prompts')  # the new prompt joins them


class JobBoard:
    """The right column: this tab's job cards, newest MAX_CARDS, kept live from the user's prompt events."""

    def __init__(self, ctx: PageContext) -> None:
        self.ctx = ctx
        self.uid = ctx.user.id
        self.cards: dict[int, JobCard] = {}
        self.dropped: set[int] = set()

    def build(self) -> None:
        self.jobs = ui.column().classes('flex-1 gap-3 min-w-0 max-md:w-full')
        with self.jobs:
            self.empty = ui.card().classes('w-full items-center py-8')
            with self.empty:
                ui.icon('auto_awesome', size='xl').classes('opacity-40')
                ui.label('Your generations appear here, live. Write a prompt and press Generate.').classes(
                    'opacity-70').mark('generator-empty')
            self.more = ui.link(f'This tab shows your newest {MAX_CARDS}: every generation is in History',
                                '/history').classes('text-sm self-center').mark('more-in-history')
            self.more.set_visibility(False)

    def add_card(self, p: Prompt) -> None:
        if p.id is not None and p.id not in self.cards:
            self.empty.set_visibility(False)
            self.cards[p.id] = JobCard(self.ctx, p, self.jobs, on_retried=weak(self.add_card))  # no cycle
            self.dropped.discard(p.id)
            self.drop_oldest()

    def drop_oldest(self) -> None:
        # A tab keeps the newest cards only (finished ones go first): its memory and its per-event work stay bounded
        # however many generations the user starts; the history page lists them all.
        while len(self.cards) > MAX_CARDS:
            ids = list(self.cards)  # oldest first
            victim = next((i for i in ids if not self.cards[i].running), ids[0])
            self.cards.pop(victim).delete()
            self.dropped.add(victim)  # its later events must not bring it back and push a newer one out
            self.more.set_visibility(True)

    async def load(self) -> None:
        """Built from the database on every load, so a tab that slept and reconnects shows the truth."""
        library = self.ctx.services.library
        recent = await library.recent_prompts(self.uid, limit=MAX_CARDS + 1)
        for p in reversed(recent[:MAX_CARDS]):
            self.add_card(p)
        self.more.set_visibility(len(recent) > MAX_CARDS)
        completed = [c.pid for c in self.cards.values() if c.status == Status.COMPLETED.value]
        for pid, image_ids in (await library.image_ids_of_prompts(self.uid, completed)).items():
            if pid in self.cards:
                self.cards[pid].show_images(image_ids)

    def follow(self) -> None:
        self.client = ui.context.client
        on_prompt_events(self.uid, self.on_events)

    async def on_events(self, batch: list[PromptEvent]) -> None:
        # Status, message and image ids come with the event; only new cards and finished ones (final cost, time,
        # error) need the database, read once for the whole batch.
        wanted = [e.prompt_id for e in batch
                  if e.prompt_id not in self.dropped and (e.prompt_id not in self.cards or Status(e.status).finished)]
        fresh = await shared_read(self.ctx, ('prompts', tuple(wanted), burst(batch)),
                                  lambda: self.ctx.services.library.prompts_by_id(self.uid, wanted))
        if self.client.is_deleted:
            return
        for event in batch:
            if event.prompt_id not in self.cards:  # queued from another tab or the API
                if event.prompt_id in self.dropped or event.prompt_id not in fresh:
                    continue  # removed meanwhile (e.g. by the gallery): nothing left to show
                self.add_card(fresh[event.prompt_id])
            card = self.cards.get(event.prompt_id)
            if card is not None:
                card.apply(event, fresh.get(event.prompt_id))
