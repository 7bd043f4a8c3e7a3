"""One generation as a live card on the generator: status, elapsed time, messages, cancel/retry, results."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, cast

from nicegui import ui

from nanogen.errors import NanogenError
from nanogen.events import PromptEvent
from nanogen.generation.catalogue import CATALOGUE, size_label
from nanogen.generation.refusals import alternatives_for
from nanogen.models import Prompt, Status

from ._clock import server_now_ms, timing
from ._edit_dialog import EditDialog
from ._format import STATUS_COLORS, cancelled_notice, duration, money
from .frame import PageContext, notify_error

CLAMP_LINES = 3  # the template's line-clamp-3
CLAMP_CHARS = 240  # roughly three lines of the card; shorter prompts need no toggle
FAILURE_HINT = 'Change the prompt or settings if the message asks for it, then press Retry.'


class JobCardView(ui.element, component='_job_card.js'):
    """The card in the browser: one element whose `job` prop is everything it shows (see _job_card.js). Its only
    children are an open edit dialog's."""

    def __init__(self, pid: int) -> None:
        super().__init__()
        self._props['job'] = {'id': pid}

    def _displayed_contents(self, *, only_visible: bool) -> list[Any]:
        """What the card shows as text, for NiceGUI's element filter (user.should_see and friends)."""
        job = self._props['job']
        buttons = {'cancel': 'Cancel', 'retry': 'Retry'}.get(job.get('action', ''), '')
        alternatives = [f"Try {alt['name']}" for alt in job.get('alternatives', ())]
        results = ['Download', 'Open in gallery', 'Edit'] if job.get('images') else []
        return [job.get(key) for key in ('label', 'cost', 'prompt', 'message', 'error', 'hint', 'finished')] + [
            buttons, *alternatives, *results, 'More' if job.get('long') else '']


class JobCard:
    """Built once as one element; an event re-sends its one `job` dict (badge, buttons, message, results), so a
    burst of events costs a prop update per card per tab, not rows rebuilt. The page rebuilds from the database
    on every load, so a missed event cannot leave a reloaded tab wrong."""

    def __init__(self, ctx: PageContext, prompt: Prompt, container: ui.element,
                 on_retried: Callable[[Prompt], None], *, first: bool = True) -> None:
        self.ctx = ctx
        self.prompt = prompt
        self.on_retried = on_retried
        self.status = prompt.status
        self.message = ''
        self.images: list[int] = []
        pid = self.pid
        with container:
            self.card = JobCardView(pid).mark(f'job-{pid}')
        self.card.on('cancel', self.cancel)
        self.card.on('retry', self.retry)
        self.card.on('try', lambda e: self.try_model(e.args))
        self.card.on('edit', lambda e: self.edit(e.args))
        if first:
            self.card.move(container, target_index=0)
        self._show()

    @property
    def pid(self) -> int:
        assert self.prompt.id is not None
        return self.prompt.id

    @property
    def running(self) -> bool:
        return not Status(self.status).finished

    @property
    def job(self) -> dict[str, Any]:
        """What the card shows now (the `job` prop)."""
        return cast(dict[str, Any], self.card.props['job'])

    def apply(self, event: PromptEvent, fresh: Prompt | None = None) -> None:
        """Show what `event` says. `fresh` is the prompt re-read after it finished (final cost, time, error)."""
        if fresh is not None:
            self.prompt = fresh
        self.status = event.status
        self.message = event.message if self.running else ''
        if event.status == Status.COMPLETED.value and event.image_ids:
            self.images = list(event.image_ids)
        self._show()

    def show_images(self, image_ids: Sequence[int]) -> None:
        self.images = list(image_ids)
        self._show()

    def _show(self) -> None:
        job = self._job()
        if job != self.card.props['job']:  # an unchanged card sends nothing
            self.card.props['job'] = job
            self.card.update()

    def _job(self) -> dict[str, Any]:
        p, failed = self.prompt, self.status == Status.FAILED.value
        # Ended: what was billed (0 for a failure the provider did not charge); running: the estimate, said so.
        cost = f'est. {money(p.estimated_cost)}' if self.running else money(p.cost)
        action = 'cancel' if self.running else (
            'retry' if self.status in (Status.FAILED.value, Status.CANCELLED.value) else '')
        alternatives = alternatives_for(self.ctx.services.settings, p) if failed else []
        return {
            'id': self.pid, 'status': self.status, 'label': self.status.title(), 'running': self.running,
            'color': STATUS_COLORS.get(self.status, 'grey'), **self._timing(),
            'cost': f'{size_label(p.model, p.image_size, p.resolution)} · {p.aspect_ratio} · {p.num_images}× · {cost}',
            'action': action, 'prompt': p.prompt,
            # A 2,000-character prompt would push the results off screen: clamped to a few lines, expandable.
            'long': len(p.prompt) > CLAMP_CHARS or p.prompt.count('\n') >= CLAMP_LINES,
            'message': self.message if self.running else '',
            'error': (p.error_message or 'The generation failed.') if failed else '',
            'hint': FAILURE_HINT if failed else '',
            'alternatives': [{'id': spec.id, 'name': spec.name} for spec in alternatives],  # the model was down
            'finished': f'Finished in {duration(p.duration_ms)}' if self.status == Status.COMPLETED.value else '',
            'images': list(self.images),
        }

    def _timing(self) -> dict[str, int | None]:
        shown, times = self.job, timing(self.prompt)
        if self.prompt.completed_at is None and shown.get('ended'):
            times['ended'] = shown['ended']  # ended without an end time: keep the "now" it was first shown with
        # `now` is the server's clock when the card was built; the browser counts from it (its own may be off).
        return {**times, 'now': shown.get('now') or server_now_ms()}

    def edit(self, image_id: object) -> None:
        """The Edit button under a result: only this card's own results (the library checks whose they are again)."""
        if type(image_id) is not int or image_id not in self.images:  # bool is an int; JSON may send anything
            return
        self.card.clear()  # one dialog at a time, inside the card, so it goes when the card goes
        with self.card:
            EditDialog(self.ctx, image_id, on_started=self.on_retried).open()

    async def cancel(self) -> None:
        if self.job.get('action') != 'cancel':
            return  # the button is gone (the job ended meanwhile), as a removed NiceGUI button would send nothing
        try:
            cancelled = await self.ctx.services.generation.cancel(self.ctx.user.id, self.pid)
        except NanogenError as exc:
            notify_error(exc.user_message)
            return
        ui.notify(cancelled_notice(cancelled))

    async def retry(self) -> None:
        if self.job.get('action') != 'retry':
            return  # no Retry on this card now (running or completed)
        try:
            created = await self.ctx.services.generation.retry(self.ctx.user.id, self.pid)
        except NanogenError as exc:
            notify_error(exc.user_message)
            return
        self.on_retried(created)
        ui.notify('Queued again with the same settings.', type='info')

    async def try_model(self, model: object) -> None:
        """The same prompt with another model: the service keeps what that model has (count, ratio, resolution,
        options) and an edit's source image."""
        if not isinstance(model, str) or model not in {alt['id'] for alt in self.job.get('alternatives', ())}:
            return  # only a model this card offers (a crafted event asks for nothing else)
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
