"""The admin console's Groups section (issue 16): spend per group this month; create, rename and delete groups and
set their OIDC names; add and remove members and change their roles; set each group's monthly budget and
model/resolution allow-list."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from decimal import Decimal, InvalidOperation

from nicegui import ui

from nanogen.accounts.groups import GroupPolicy, GroupService, MemberInfo
from nanogen.config import RESOLUTIONS
from nanogen.errors import InvalidInput
from nanogen.generation.catalogue import CATALOGUE
from nanogen.models import GROUP_ROLES

from ._format import money
from .frame import PageContext

Act = Callable[[Callable[[], Awaitable[object]], str], Awaitable[None]]


async def groups_section(ctx: PageContext, act: Act) -> None:
    groups = ctx.services.groups
    ui.label('Groups').classes('text-lg font-semibold')
    spend = await groups.spend_by_group(ctx.user.id)
    with ui.column().classes('w-full gap-1').mark('group-spend'):
        if not spend:
            ui.label('No groups yet.').classes('opacity-60')
        for g in spend:
            limit = f' of {money(g.budget)}' if g.budget else ''
            ui.label(f'{g.name} · {g.members} member{"s" if g.members != 1 else ""} · {money(g.spent)}{limit} '
                     'this month').classes('text-sm').mark(f'group-{g.id}')
    with ui.row().classes('items-end gap-2'):
        name = ui.input('New group').props('outlined dense maxlength=100').mark('group-name')
        ui.button('Create group', on_click=lambda: act(lambda: groups.create(ctx.user.id, name.value or ''),
                                                      'Group created.')).props('no-caps').mark('create-group')
    with ui.row().classes('items-end gap-2'):
        which = ui.select({g.id: g.name for g in spend}, label='Group').props('outlined dense').classes('w-40').mark(
            'member-group')
        email = ui.input('Email').props('outlined dense').mark('member-email')
        role = ui.select(list(GROUP_ROLES), value='member', label='Role').props('outlined dense').mark('member-role')
        ui.button('Add member', on_click=lambda: act(lambda: groups.add_member_by_email(
            ctx.user.id, int(which.value or 0), email.value or '', role.value), 'Member added.')).props(
            'no-caps').mark('add-member')
    for g in spend:
        policy = await groups.policy(ctx.user.id, g.id)
        members = await groups.members(ctx.user.id, g.id)
        with ui.expansion(g.name).classes('w-full').mark(f'manage-group-{g.id}'):
            _group_panel(ctx, act, policy, members)


def _group_panel(ctx: PageContext, act: Act, policy: GroupPolicy, members: list[MemberInfo]) -> None:
    """One group's rename/delete, members and roles, and limits."""
    groups, me, gid = ctx.services.groups, ctx.user.id, policy.id
    with ui.row().classes('items-end gap-2'):
        new_name = ui.input('Name', value=policy.name).props('outlined dense maxlength=100').mark(f'rename-{gid}')
        ui.button('Rename', on_click=lambda: act(lambda: groups.rename(me, gid, new_name.value or ''),
                                                 'Group renamed.')).props('no-caps').mark(f'rename-group-{gid}')
        ui.button('Delete group', on_click=lambda: _confirm_delete(groups, me, policy, act)).props(
            'no-caps flat color=negative').mark(f'delete-group-{gid}')
    with ui.row().classes('items-end gap-2'):
        # The OIDC groups claim (NANOGEN_OIDC_GROUPS_CLAIM) joins members by the group's name or this one.
        oidc_name = ui.input('OIDC group name (empty: its name)', value=policy.oidc_name or '').props(
            'outlined dense maxlength=255').classes('w-72').mark(f'oidc-name-{gid}')
        ui.button('Save OIDC name', on_click=lambda: act(lambda: groups.set_oidc_name(me, gid, oidc_name.value),
                                                         'OIDC name saved.')).props('no-caps').mark(
            f'save-oidc-name-{gid}')
    for m in members:
        with ui.row().classes('items-center gap-2'):
            ui.label(f'{m.email} ({m.source})' if m.source != 'manual' else m.email).classes('text-sm w-64')
            ui.select(list(GROUP_ROLES), value=m.role, on_change=lambda e, uid=m.user_id: act(
                lambda: groups.set_role(me, gid, uid, str(e.value)), 'Role changed.')).props('outlined dense').mark(
                f'role-{gid}-{m.user_id}')
            ui.button('Remove', on_click=lambda uid=m.user_id: act(lambda: groups.remove_member(me, gid, uid),
                                                                   'Member removed.')).props('no-caps flat').mark(
                f'remove-{gid}-{m.user_id}')
    models = {spec.id: spec.name for spec in CATALOGUE.values()}
    # A pixel size names Nano Banana's sizes only; 1K/2K/4K cover Pro and 2 and Nano Banana's sizes of that class.
    sizes = {**{r: r for r in RESOLUTIONS}, **{str(s): f'{s} px (Nano Banana)' for s in CATALOGUE['nanobanana'].sizes}}
    with ui.row().classes('items-end gap-2'):
        budget = ui.input('Monthly budget ($, empty: none)',
                          value=str(policy.monthly_budget) if policy.monthly_budget else '').props(
            'outlined dense').mark(f'group-budget-{gid}')
        allowed = ui.select(models, multiple=True, value=policy.allowed_models or [], label='Models (none: any)'
                            ).props('outlined dense use-chips').classes('w-56').mark(f'models-{gid}')
        resolutions = ui.select(sizes, multiple=True, value=policy.allowed_resolutions or [],
                                label='Sizes (none: any)').props('outlined dense use-chips').classes('w-56').mark(
            f'sizes-{gid}')

        async def save() -> None:
            await groups.set_policy(me, gid, monthly_budget=_dollars(budget.value),
                                    allowed_models=list(allowed.value) or None,
                                    allowed_resolutions=list(resolutions.value) or None)
        ui.button('Save limits', on_click=lambda: act(save, 'Limits saved.')).props('no-caps').mark(
            f'save-limits-{gid}')


def _dollars(text: object) -> Decimal | None:
    """The budget box: empty is no budget; anything not a number of dollars is refused with a message."""
    cleaned = str(text or '').strip().lstrip('$').replace(',', '')
    if not cleaned:
        return None
    try:
        value = Decimal(cleaned)
    except InvalidOperation:
        raise InvalidInput('A budget is a positive number of dollars (0: no budget).',
                           field='monthly_budget') from None
    if not value.is_finite() or value < 0 or value > 1_000_000:
        raise InvalidInput('A budget is a positive number of dollars up to 1,000,000 (0: no budget).',
                           field='monthly_budget')
    return value


def _confirm_delete(groups: GroupService, me: int, policy: GroupPolicy, act: Act) -> None:
    """Deleting asks first: the members lose the group's shared boards (the boards stay, private to their owners)."""
    with ui.dialog() as dialog, ui.card():
        ui.label(f'Delete the group "{policy.name}"? Its boards become private to their owners.')
        with ui.row():
            ui.button('Cancel', on_click=dialog.close).props('no-caps flat')

            async def confirm() -> None:
                dialog.close()
                await act(lambda: groups.delete(me, policy.id), 'Group deleted.')
            ui.button('Delete', on_click=confirm).props('no-caps color=negative').mark(f'confirm-delete-{policy.id}')
    dialog.open()
