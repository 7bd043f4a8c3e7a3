"""Budget widgets other pages can drop in: what is left of this month's budget, read-only and live."""

from __future__ import annotations

from nicegui import ui

from nanogen.events import PromptEvent
from nanogen.generation.budget import BudgetStatus

from ._format import money
from ._live import burst, on_prompt_events, shared_read
from .frame import PageContext


def describe(status: BudgetStatus) -> str:
    if status.remaining is None:
        return 'No monthly budget limit.'
    if status.group is not None:
        return f'{status.group} group budget left this month: {money(status.remaining)}.'
    if status.limit is not None and max(status.limit - status.spent, 0) <= status.remaining:
        return f'Budget left this month: {money(status.remaining)} of {money(status.limit)}.'
    return f'Team budget left this month: {money(status.remaining)}.'


async def budget_left_text(ctx: PageContext) -> str:
    """One line saying what the signed-in user may still spend this month."""
    return describe(await ctx.services.budget.remaining(ctx.user.id))


async def budget_label(ctx: PageContext) -> ui.label:
    """A small read-only label (marker 'budget-left') that follows the user's generations as they are queued and
    end (a reservation becomes the real cost, or nothing for an unbilled failure)."""
    label = ui.label(await budget_left_text(ctx)).classes('text-sm opacity-80').mark('budget-left')

    async def refresh(batch: list[PromptEvent]) -> None:
        # The user's other tabs got the same burst: one read of the budget for all of them.
        label.text = await shared_read(ctx, ('budget', burst(batch)), lambda: budget_left_text(ctx))
    # Coalesced per tab, and only when a reservation is made or settled: one read per burst, not per event.
    on_prompt_events(ctx.user.id, refresh, statuses=('PENDING', 'COMPLETED', 'FAILED', 'CANCELLED'))
    return label
