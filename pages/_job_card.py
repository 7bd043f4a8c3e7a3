"""One generation as a live card on the generator: status, elapsed time, messages, cancel/retry, results."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from nicegui import ui

from nanogen.errors import NanogenError
from nanogen.events import PromptEvent
from nanogen.generation.catalogue import CATALOGUE, size_label
from nanogen.generation.refusals import alternatives_for
from nanogen.models import Prompt, Status

from ._clock import Clock
from ._edit_dialog import EditDialog
from ._format import STATUS_COLORS, cancelled_notice, duration, money
from ._text import set_attr
from .frame import PageContext, notify_error

CLAMP_LINES = 3
CLAMP = 'line-clamp-3'  # CLAMP_LINES lines
CLAMP_CHARS = 240  # roughly three lines of the card; shorter prompts need no toggle
FAILURE_HINT = 'Change the prompt or settings if the message asks for it, then press Retry.'


class JobCard:
    """Built once; an event changes only the parts it concerns (badge, buttons, message, results), so a burst of
    events costs a few property updates per tab, not a card rebuilt per event. The page rebuilds from the database
    on every load, so a missed event cannot leave a reloaded tab wrong."""

    def __init__(self, ctx: PageContext, prompt: Prompt, container: ui.element,
                 on_retried: Callable[[Prompt], None], *, first: bool = True) -> None:
        self.ctx = ctx
        self.prompt = prompt
        self.on_retried = on_retried
        self.status = prompt.status
        self.message = ''
        self.images: list[int] = []
        self._action = ''  # which button the actions row holds: 'cancel', 'retry' or ''
        self._outcome: tuple[str, tuple[int, ...], int | None] | None = None  # what the outcome column shows
        pid = self.pid
        with container:
            with set_attr(ui.card(), 'data-prompt-id', pid).classes('w-full gap-2').mark(f'job-{pid}') as self.card:
                with ui.row().classes('w-full items-center gap-2'):
                    self.badge = ui.badge().mark(f'status-{pid}')
                    self.elapsed = Clock(prompt).classes('font-mono text-sm opacity-70').mark(f'elapsed-{pid}')
                    self.spinner = ui.spinner(size='sm')
                    ui.space()
                    self.cost = ui.label().classes('text-sm opacity-70').mark(f'cost-{pid}')
                    self.actions = ui.row().classes('gap-0')
                self._prompt_text(prompt.prompt)
                with ui.column().classes('gap-1 w-full'):
                    # The live line changes often ("Submitting", "Generating", retries): its text is set in place.
                    self.live = ui.label().classes('text-sm nanogen-live').mark(f'message-{pid}')
                    self.details = ui.column().classes('gap-1 w-full')
        if first:
            self.card.move(container, target_index=0)
        self._show_status()
        self._show_details()

    def _prompt_text(self, text: str) -> None:
        # A 2,000-character prompt would push the results off screen: clamp it to a few lines, expandable.
        label = ui.label(text).classes('text-sm whitespace-pre-wrap break-words').classes(CLAMP).mark(f'prompt-{self.pid}')
        if len(text) > CLAMP_CHARS or text.count('\n') >= CLAMP_LINES:
            def toggle() -> None:
                clamped = CLAMP in label.classes
                label.classes(remove=CLAMP) if clamped else label.classes(add=CLAMP)
                more.text = 'Less' if clamped else 'More'
            more = ui.button('More', on_click=toggle).props('flat dense size=sm').classes('self-start').mark(
                f'prompt-more-{self.pid}')

    @property
    def pid(self) -> int:
        assert self.prompt.id is not None
        return self.prompt.id

    @property
    def running(self) -> bool:
        return not Status(self.status).finished

    def apply(self, event: PromptEvent, fresh: Prompt | None = None) -> None:
        """Show what `event` says. `fresh` is the prompt re-read after it finished (final cost, time, error)."""
        status_changed = event.status != self.status
        if fresh is not None:
            self.prompt = fresh
        self.status = event.status
        message = event.message if self.running else ''
        images = list(event.image_ids) if event.status == Status.COMPLETED.value and event.image_ids else self.images
        if status_changed or fresh is not None:
            self._show_status()
        if status_changed or fresh is not None or message != self.message or images != self.images:
            self.message, self.images = message, images
            self._show_details()

    def show_images(self, image_ids: Sequence[int]) -> None:
        self.images = list(image_ids)
        self._show_details()

    def _show_status(self) -> None:
        p = self.prompt
        self.badge.text = self.status.title()
        self.badge.props['color'] = STATUS_COLORS.get(self.status, 'grey')
        self.spinner.set_visibility(self.running)
        self.elapsed.show(p)
        # Ended: what was billed (0 for a failure the provider did not charge); running: the estimate, said so.
        cost = f'est. {money(p.estimated_cost)}' if self.running else money(p.cost)
        self.cost.text = f'{size_label(p.model, p.image_size, p.resolution)} · {p.aspect_ratio} · {p.num_images}× · {cost}'
        action = 'cancel' if self.running else (
            'retry' if self.status in (Status.FAILED.value, Status.CANCELLED.value) else '')
        if action == self._action:
            return  # PENDING -> PROCESSING keeps its Cancel button: nothing to rebuild
        self._action = action
        self.actions.clear()
        with self.actions:
            if action == 'cancel':
                ui.button('Cancel', icon='close', on_click=self.cancel).props(
                    'flat dense color=negative').mark(f'cancel-{self.pid}')
            elif action == 'retry':
                ui.button('Retry', icon='refresh', on_click=self.retry).props('flat dense').mark(f'retry-{self.pid}')

    def _show_details(self) -> None:
        p, pid = self.prompt, self.pid
        self.live.text = self.message if self.running else ''
        self.live.set_visibility(bool(self.message) and self.running)
        outcome = (self.status, tuple(self.images), p.duration_ms)
        if outcome == self._outcome:
            return  # only the live line changed
        self._outcome = outcome
        self.details.clear()
        with self.details:
            if self.status == Status.FAILED.value:
                with ui.column().classes('gap-0'):
                    ui.label(p.error_message or 'The generation failed.').classes('text-sm text-negative').mark(
                        f'error-{pid}')
                    ui.label(FAILURE_HINT).classes('text-xs opacity-70')
                    with ui.row().classes('gap-1'):
                        for spec in alternatives_for(self.ctx.services.settings, p):  # the model was down
                            ui.button(f'Try {spec.name}', icon='swap_horiz',
                                      on_click=lambda m=spec.id: self.try_model(m)).props('flat dense').mark(
                                f'try-{spec.id}-{pid}')
            if self.status == Status.COMPLETED.value:
                ui.label(f'Finished in {duration(p.duration_ms)}').classes('text-xs opacity-60')
            if self.images:
                with ui.row().classes('gap-3'):
                    for image_id in self.images:
                        with ui.column().classes('gap-1'):
                            set_attr(set_attr(ui.image(f'/files/{image_id}/image'), 'alt', p.prompt), 'data-image-id',
                                     image_id).classes('w-56 max-w-full rounded').mark('result-image')
                            with ui.row().classes('gap-1'):
                                ui.button('Download', icon='download', on_click=lambda i=image_id: ui.download(
                                    f'/files/{i}/image?download=true')).props('flat dense')
                                ui.button('Open in gallery', icon='photo_library', on_click=lambda i=image_id:
                                          ui.navigate.to(f'/gallery?image={i}')).props('flat dense')
                                ui.button('Edit', icon='edit', on_click=lambda i=image_id: EditDialog(
                                    self.ctx, i, on_started=self.on_retried).open()).props('flat dense').mark(
                                    f'edit-result-{image_id}')

    async def cancel(self) -> None:
        try:
            cancelled = await self.ctx.services.generation.cancel(self.ctx.user.id, self.pid)
        except NanogenError as exc:
            notify_error(exc.user_message)
            return
        ui.notify(cancelled_notice(cancelled))

    async def retry(self) -> None:
        try:
            created = await self.ctx.services.generation.retry(self.ctx.user.id, self.pid)
        except NanogenError as exc:
            notify_error(exc.user_message)
            return
        self.on_retried(created)
        ui.notify('Queued again with the same settings.', type='info')

    async def try_model(self, model: str) -> None:
        """The same prompt with another model: the service keeps what that model has (count, ratio, resolution,
        options) and an edit's source image."""
        spec = CATALOGUE[model]
        try:
            created = await self.ctx.services.generation.retry(self.ctx.user.id, self.pid, model=model)
        except NanogenError as exc:
            notify_error(exc.user_message)
            return
        self.on_retried(created)
        ui.notify(f'Queued again with {spec.name}.', type='info')

    def delete(self) -> None:
        self.card.delete()
