"""The generator: write a prompt, add reference images, queue jobs, watch them live, get the images."""

from __future__ import annotations

from nicegui import events, ui

from nanogen.config import ASPECT_RATIOS, SIZES
from nanogen.errors import NanogenError
from nanogen.events import PromptEvent
from nanogen.generation.requests import MAX_REFERENCES, TOO_LONG_PREFIX, prompt_length_error, validate_request
from nanogen.images.references import MAX_UPLOAD_BYTES, Reference
from nanogen.models import Prompt, Status

from ._format import money
from ._job_card import JobCard
from ._live import on_prompt_events
from .budget_widgets import budget_label
from .frame import PageContext, frame, guarded_page, notify_error

PRESETS = 6
MAX_CARDS = 20  # job cards one tab keeps
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


@guarded_page('/generator', title='Generator', nav='Generate', icon='auto_awesome')
async def generator_page(ctx: PageContext, prompt: str = '', size: str = '1024', ratio: str = '1:1') -> None:
    settings = ctx.services.settings
    references = ctx.services.references
    uid = ctx.user.id
    cards: dict[int, JobCard] = {}
    dropped: set[int] = set()
    refs: list[Reference] = []

    with frame(ctx, 'Generate'):
        with ui.row().classes('w-full gap-6 items-start no-wrap max-md:flex-col'):
            with ui.card().classes('w-full md:w-[440px] md:shrink-0 gap-3'):
                text = ui.textarea('Prompt', value=prompt, placeholder='A watercolor fox reading a newspaper…').props(
                    'outlined autogrow autofocus').classes('w-full').mark('prompt')
                # No maxlength: the browser would silently cut a pasted prompt. The validation decides, live.
                counter = ui.label().classes('text-xs self-end -mt-2').mark('prompt-counter')

                @ui.refreshable
                async def presets() -> None:
                    recent = preset_prompts(await ctx.services.library.recent_prompts(uid, limit=40))
                    if not recent:
                        return
                    with ui.row().classes('w-full gap-1 items-center'):
                        ui.icon('history', size='xs').classes('opacity-60').tooltip('Your recent prompts')
                        for p in recent:
                            short = p if len(p) <= PRESET_LABEL else p[:PRESET_LABEL - 1] + '…'
                            ui.chip(short, on_click=lambda p=p: text.set_value(p)).props(
                                'dense clickable outline color=primary').tooltip(p).mark('preset')
                await presets()

                size_choice = ui.toggle({s: f'{s}px' for s in SIZES},
                                        value=int(size) if size in map(str, SIZES) else 1024).props('spread no-caps').mark('size')
                with ui.row().classes('w-full gap-2 no-wrap'):
                    ratio_choice = ui.select(list(ASPECT_RATIOS), value=ratio if ratio in ASPECT_RATIOS else '1:1',
                                             label='Aspect ratio').props('outlined dense').classes('grow').mark('ratio')
                    count = ui.select({1: '1 image', 2: '2 images', 3: '3 images', 4: '4 images'}, value=1,
                                      label='Images').props('outlined dense').classes('grow').mark('count')
                watermark = ui.input('Watermark (optional)').props('outlined dense maxlength=100 counter').classes(
                    'w-full').mark('watermark')

                with ui.expansion('Reference images (image-to-image)', icon='add_photo_alternate').classes(
                        'w-full').props('dense'):
                    if references is None or not references.available:
                        reason = references.unavailable_reason if references else 'Reference images are not set up.'
                        ui.label(reason).classes('text-sm text-warning').mark('references-unavailable')
                    else:
                        ui.label(f'Up to {MAX_REFERENCES} PNG, JPEG, WebP or GIF images, '
                                 f'{MAX_UPLOAD_BYTES // (1024 * 1024)} MB each.').classes('text-xs opacity-70')
                        if settings.demo_mode:
                            ui.label('The demo provider ignores reference images.').classes('text-xs opacity-70')
                        upload = ui.upload(multiple=True, auto_upload=True, max_file_size=MAX_UPLOAD_BYTES,
                                           label='Add reference images').props('accept=image/* flat bordered').classes(
                            'w-full').mark('reference-upload')
                        ref_error = ui.label().classes('text-sm text-negative').mark('reference-error')
                        previews = ui.row().classes('gap-2')

                        def show_previews() -> None:
                            previews.clear()
                            with previews:
                                for ref in refs:
                                    with ui.image(ref.preview).classes('w-20 h-20 rounded').props(
                                            'fit=cover').mark('reference-preview'):
                                        ui.button(icon='close', on_click=lambda r=ref: remove_ref(r)).props(
                                            'round dense size=xs color=negative').classes('absolute top-0 right-0').mark(
                                            'reference-remove')

                        async def remove_ref(ref: Reference) -> None:
                            refs.remove(ref)
                            show_previews()
                            try:
                                await references.discard(uid, ref.key)
                            except NanogenError:
                                pass  # an orphaned reference costs a few kilobytes; the person asked to drop it

                        async def on_upload(e: events.UploadEventArguments) -> None:
                            name = e.file.name or 'the file'
                            if len(refs) >= MAX_REFERENCES:
                                ref_error.text = f'{name}: use at most {MAX_REFERENCES} reference images.'
                                return
                            try:
                                ref = await references.save(uid, await e.file.read())
                            except NanogenError as exc:
                                ref_error.text = f'{name}: {exc.user_message}'
                                notify_error(ref_error.text)
                                return
                            ref_error.text = ''
                            refs.append(ref)
                            show_previews()
                            upload.reset()

                        upload.on_upload(on_upload)
                        upload.on_rejected(lambda: setattr(ref_error, 'text', (
                            f'That file is too large: the limit is {MAX_UPLOAD_BYTES // (1024 * 1024)} MB.')))

                estimate = ui.label().classes('text-sm opacity-80').mark('estimate')
                await budget_label(ctx)  # what is left of this month's budget, kept current
                error = ui.label().classes('text-negative text-sm').mark('form-error')
                # Length state of the prompt, refreshed on every change; shares its message with validate_request.
                too_long: list[str | None] = [None]

                def update_estimate() -> None:
                    cost = settings.price_for(int(size_choice.value)) * int(count.value)
                    estimate.text = f'Estimated cost: {money(cost)}'
                for element in (size_choice, count):
                    element.on_value_change(update_estimate)
                update_estimate()
                button = ui.button('Generate', icon='auto_awesome').classes('w-full').props('size=lg').mark('generate')

                def check_length() -> None:
                    value = text.value or ''
                    too_long[0] = prompt_length_error(value, settings.prompt_max_length)
                    counter.text = f'{len(value.strip())} / {settings.prompt_max_length}'
                    counter.classes(replace='text-xs self-end -mt-2 text-negative' if too_long[0] else
                                    'text-xs self-end -mt-2 opacity-60')
                    if too_long[0]:
                        error.text = too_long[0]
                    elif error.text.startswith(TOO_LONG_PREFIX):
                        error.text = ''
                    button.set_enabled(not too_long[0] and not busy[0])
                text.on_value_change(check_length)
                ui.label('Ctrl+Enter generates · several can run at once').classes('text-xs opacity-60 self-center')
            jobs = ui.column().classes('flex-1 gap-3 min-w-0 max-md:w-full')
            with jobs:
                empty = ui.card().classes('w-full items-center py-8')
                with empty:
                    ui.icon('auto_awesome', size='xl').classes('opacity-40')
                    ui.label('Your generations appear here, live. Write a prompt and press Generate.').classes(
                        'opacity-70').mark('generator-empty')

        busy = [False]  # set from the first click until the prompt is recorded: a double click queues one job

        async def generate() -> None:
            if busy[0]:
                return
            busy[0] = True
            button.props('loading')
            button.disable()
            try:
                await submit()
            finally:
                busy[0] = False
                button.props(remove='loading')
                check_length()

        async def submit() -> None:
            error.text = ''
            try:
                urls = [await references.url_for(uid, r.key) for r in refs] if references else []
                request = validate_request(prompt=text.value, size=size_choice.value, aspect_ratio=ratio_choice.value,
                                           num_images=int(count.value), watermark=watermark.value or None,
                                           reference_urls=urls, max_prompt_length=settings.prompt_max_length)
            except NanogenError as exc:
                error.text = exc.user_message
                return
            try:
                created = await ctx.services.generation.create(uid, request)
            except NanogenError as exc:
                error.text = exc.user_message
                notify_error(exc.user_message)
                return
            add_card(created)  # the new card at the top is the feedback: no toast on every submit
            presets.refresh()

        button.on_click(generate)
        text.on('keydown.ctrl.enter', generate)  # the same guarded handler
        check_length()

    def add_card(p: Prompt) -> None:
        if p.id is not None and p.id not in cards:
            empty.set_visibility(False)
            cards[p.id] = JobCard(ctx, p, jobs, on_retried=add_card)
            dropped.discard(p.id)
            drop_oldest()

    def drop_oldest() -> None:
        # A tab keeps the newest cards only (finished ones go first): its memory and its per-event work stay bounded
        # however many generations the user starts; the history page lists them all.
        while len(cards) > MAX_CARDS:
            ids = list(cards)  # oldest first
            victim = next((i for i in ids if not cards[i].running), ids[0])
            cards.pop(victim).delete()
            dropped.add(victim)  # its later events must not bring it back and push a newer one out

    # Built from the database on every load, so a tab that slept and reconnects shows the truth.
    for p in reversed(await ctx.services.library.recent_prompts(uid, limit=8)):
        add_card(p)
    completed = [c.pid for c in cards.values() if c.status == Status.COMPLETED.value]
    for pid, image_ids in (await ctx.services.library.image_ids_of_prompts(uid, completed)).items():
        if pid in cards:
            cards[pid].show_images(image_ids)

    async def on_events(batch: list[PromptEvent]) -> None:
        # Status, message and image ids come with the event; only new cards and finished ones (final cost, time,
        # error) need the database, read once for the whole batch.
        wanted = [e.prompt_id for e in batch
                  if e.prompt_id not in dropped and (e.prompt_id not in cards or Status(e.status).finished)]
        fresh = await ctx.services.library.prompts_by_id(uid, wanted)
        if client.is_deleted:
            return
        for event in batch:
            if event.prompt_id not in cards:  # queued from another tab or the API
                if event.prompt_id in dropped or event.prompt_id not in fresh:
                    continue  # removed meanwhile (e.g. by the gallery): nothing left to show
                add_card(fresh[event.prompt_id])
            card = cards.get(event.prompt_id)
            if card is not None:
                card.apply(event, fresh.get(event.prompt_id))

    client = ui.context.client
    on_prompt_events(uid, on_events)
    ui.timer(1.0, lambda: [c.tick() for c in cards.values()])
