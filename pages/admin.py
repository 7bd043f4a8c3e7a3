"""The admin console: spend and health per user, budgets, disabling, stuck jobs, failures, exports, audit trail."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime
from decimal import Decimal

from nicegui import ui

from nanogen.errors import NanogenError
from nanogen.generation.budget import WARN_RATIO
from nanogen.ops.admin import AdminService, UserUsage

from ._admin_groups import groups_section
from ._format import money, provider_credits
from .frame import PageContext, frame, guarded_page, notify_error


def when(at: datetime | None) -> str:
    return at.strftime('%Y-%m-%d %H:%M UTC') if at else '—'


def budget_text(u: UserUsage) -> str:
    if u.limit is None:
        return f'{money(u.spent)} (no limit)'
    return f'{money(u.spent)} of {money(u.limit)}'


class AdminConsole:
    """The console's sections; `content` re-reads everything after each action or on Refresh."""

    def __init__(self, ctx: PageContext) -> None:
        self.ctx = ctx
        self.admin: AdminService = ctx.services.admin
        self.me = ctx.user.id

    async def act(self, action: Callable[[], Awaitable[object]], done: str) -> None:
        """Run one admin action; a refused one shows its message, and the page re-reads the database."""
        try:
            await action()
        except NanogenError as exc:
            notify_error(exc.user_message)
            return
        ui.notify(done, type='positive')
        self.content.refresh()

    def confirm_delete(self, u: UserUsage) -> None:
        with ui.dialog() as dialog, ui.card():
            ui.label(f'Delete {u.email} with all their prompts and images? This cannot be undone.')
            with ui.row():
                ui.button('Cancel', on_click=dialog.close).props('flat')

                async def go() -> None:
                    dialog.close()
                    await self.act(lambda: self.admin.delete_user(self.me, u.id), f'{u.email} deleted.')
                ui.button('Delete', color='negative', on_click=go).mark('confirm-delete')
        dialog.open()

    @ui.refreshable_method
    async def content(self) -> None:
        users = await self.admin.users_overview()
        team_spent, team_cap = await self.admin.team_spend()
        budget_banner(users, team_spent, team_cap)
        self.summary_cards(team_spent, team_cap, await self.admin.suspect_submits())
        ui.label('Users').classes('text-lg font-semibold')
        with ui.column().classes('w-full gap-1'):
            for u in users:
                self.user_row(u)
        await groups_section(self.ctx, self.act)
        await self.in_flight()
        await self.failures()
        await self.billing_mismatches()
        await self.audit()

    def summary_cards(self, team_spent: Decimal, team_cap: Decimal | None, suspect: tuple[int, int]) -> None:
        admin = self.admin
        with ui.row().classes('w-full gap-4 items-stretch'):
            with ui.card().classes('grow'):
                ui.label('Provider credits').classes('text-sm opacity-70')
                credits = ui.label('checking…').classes('text-2xl').mark('credits')

                async def load_credits(label: ui.label = credits) -> None:
                    # After the page is shown: a slow provider must not hold up the console.
                    amount = await admin.credits()
                    label.text = 'unavailable right now' if amount is None else provider_credits(amount)
                ui.timer(0.01, load_credits, once=True)
            with ui.card().classes('grow'):
                ui.label('Team spend this month').classes('text-sm opacity-70')
                ui.label(money(team_spent) + (f' of {money(team_cap)}' if team_cap else ' (no cap)')).classes(
                    'text-2xl')
            with ui.card().classes('grow'):
                ui.label('Possible double charges this month').classes('text-sm opacity-70')
                prompts, resubmits = suspect
                ui.label(str(prompts)).classes('text-2xl').mark('suspect-submits')
                ui.label('Prompts sent again after a submit whose answer was lost (a crash or cut connection): the '
                         f'provider may have billed them twice ({resubmits} resubmit(s), counted in their cost).'
                         if prompts else 'None: every submit was answered.').classes('text-xs opacity-70')
            with ui.card().classes('grow'):
                ui.label('Exports').classes('text-sm opacity-70')
                ui.link('Usage per user per month (CSV)', '/admin/usage.csv').mark('usage-csv')

    def user_row(self, u: UserUsage) -> None:
        admin, me, act = self.admin, self.me, self.act
        with ui.row().classes('w-full items-center gap-3 border-b py-1').mark(f'user-{u.id}'):
            with ui.column().classes('gap-0 min-w-[220px]'):
                ui.label(u.email + (' (admin)' if u.is_admin else '') + (' — disabled' if u.disabled else ''))
                ui.label(f'last active {when(u.last_activity)}').classes('text-xs opacity-60')
            ui.label(budget_text(u)).classes('min-w-[160px]').mark(f'spend-{u.id}')
            rate = '—' if u.failure_rate is None else f'{u.failure_rate:.0%}'
            ui.label(f'{u.generations} this month · {rate} failed').classes('min-w-[170px] text-sm')
            budget = ui.input('Budget $', value='' if u.budget_override is None else str(u.budget_override),
                              placeholder='default').props('dense outlined').classes('w-28').mark(
                f'budget-{u.id}')
            ui.button('Set', on_click=lambda u=u, b=budget: act(
                lambda: admin.set_budget(me, u.id, b.value), f'Budget of {u.email} saved.')).props(
                'flat dense').mark(f'save-budget-{u.id}')
            if u.id != me:
                ui.button('Enable' if u.disabled else 'Disable', on_click=lambda u=u: act(
                    lambda: admin.set_disabled(me, u.id, not u.disabled),
                    f'{u.email} {"enabled" if u.disabled else "disabled"}.')).props(
                    'flat dense').mark(f'toggle-{u.id}')
            ui.button('Demote' if u.is_admin else 'Make admin', on_click=lambda u=u: act(
                lambda: admin.set_admin(me, u.id, not u.is_admin),
                f'{u.email} {"is no longer an admin" if u.is_admin else "is now an admin"}.')).props(
                'flat dense').mark(f'admin-{u.id}')
            ui.button('Export', icon='download', on_click=lambda u=u: ui.download(
                f'/admin/users/{u.id}/export.zip')).props('flat dense').mark(f'export-{u.id}')
            if u.id != me:
                ui.button('Delete', icon='delete', color='negative',
                          on_click=lambda u=u: self.confirm_delete(u)).props('flat dense').mark(f'delete-{u.id}')

    async def in_flight(self) -> None:
        ui.label('In flight').classes('text-lg font-semibold')
        jobs = await self.admin.in_flight()
        if not jobs:
            ui.label('Nothing is generating right now.').classes('opacity-60').mark('no-jobs')
        for job in jobs:
            with ui.row().classes('w-full items-center gap-3').mark(f'job-{job.prompt_id}'):
                ui.badge('stuck' if job.stuck else job.status.title(), color='negative' if job.stuck else 'blue')
                ui.label(f'#{job.prompt_id} {job.email} since {when(job.since)}').classes('text-sm')
                ui.label(job.prompt).classes('text-sm opacity-70 truncate max-w-[360px]')
                ui.button('Cancel', on_click=lambda j=job: self.act(lambda: self.admin.cancel(self.me, j.prompt_id),
                                                                    f'Generation #{j.prompt_id} cancelled.')).props(
                    'flat dense color=negative').mark(f'cancel-{job.prompt_id}')

    async def failures(self) -> None:
        ui.label('Failures (30 days)').classes('text-lg font-semibold')
        failures = await self.admin.failures()
        if not failures:
            ui.label('No failures.').classes('opacity-60')
        for f in failures:
            with ui.row().classes('w-full gap-3').mark('failure'):
                ui.badge(str(f.count), color='negative').mark('failure-count')
                ui.label(f.message).classes('text-sm grow')
                ui.label(when(f.last_at)).classes('text-xs opacity-60')

    async def billing_mismatches(self) -> None:
        ui.label('Billing mismatches (30 days)').classes('text-lg font-semibold')
        rows = await self.admin.billing_mismatches()
        if not rows:
            ui.label('The provider billed every prompt as estimated.').classes('opacity-60').mark('no-mismatches')
        for m in rows:
            with ui.row().classes('w-full gap-3 items-center').mark('billing-mismatch'):
                ui.label(f'#{m.prompt_id} {m.email}').classes('text-sm')
                ui.label(f'asked {m.asked}, billed {m.billed}').classes('text-sm grow')
                ui.label(f'estimated {money(m.estimated_cost)}, cost {money(m.cost)}').classes('text-sm')
                ui.label(when(m.at)).classes('text-xs opacity-60')

    async def audit(self) -> None:
        ui.label('Recent admin actions').classes('text-lg font-semibold')
        with ui.column().classes('w-full gap-0').mark('audit'):
            entries = await self.admin.recent_actions()
            if not entries:
                ui.label('None yet.').classes('opacity-60')
            for e in entries:
                ui.label(f'{when(e.at)} · {e.actor} · {e.action} {e.target} {e.detail}'.strip()).classes('text-sm')


def budget_banner(users: list[UserUsage], team_spent: Decimal, team_cap: Decimal | None) -> None:
    near = [u for u in users if u.near_limit]
    if near or (team_cap and team_spent >= team_cap * WARN_RATIO):
        with ui.card().classes('w-full bg-amber-100 text-black').mark('budget-banner'):
            ui.label('Budget warning').classes('font-semibold')
            for u in near:
                ui.label(f'{u.email} has used {budget_text(u)} this month.')
            if team_cap and team_spent >= team_cap * WARN_RATIO:
                ui.label(f'The team has used {money(team_spent)} of its {money(team_cap)} monthly cap.')


@guarded_page('/admin', title='Admin', nav='Admin', icon='admin_panel_settings', admin=True)
async def admin_page(ctx: PageContext) -> None:
    console = AdminConsole(ctx)
    with frame(ctx, 'Admin'):
        ui.button('Refresh', icon='refresh', on_click=lambda: console.content.refresh()).props('flat dense')
        await console.content()
