"""Groups and roles (issue 16): admins create groups and add members with a role (member, editor, admin); a group
admin may manage its own members. Every change is written to the audit log in the same transaction."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

import sqlalchemy as sa
from sqlmodel import Session, col, func, select

from nanogen.db import Database
from nanogen.errors import Forbidden, InvalidInput, NotFound
from nanogen.models import GROUP_ROLES, AuditEvent, Board, Group, GroupMember, User, utcnow
from nanogen.spend import group_members, group_month_spend

log = logging.getLogger(__name__)
MAX_GROUP_NAME = 100
MAX_OIDC_NAME = 255
RESOLUTIONS = ('1K', '2K', '4K')


@dataclass(frozen=True)
class GroupInfo:
    id: int
    name: str
    members: int
    role: str | None  # the asking user's role in it (None: an admin who is not a member)
    oidc_name: str | None = None  # its name in the OIDC groups claim; shown to app admins only


@dataclass(frozen=True)
class GroupSpend:
    id: int
    name: str
    members: int
    spent: Decimal  # this month, the members' spend together (nanogen.spend)
    budget: Decimal | None


@dataclass(frozen=True)
class GroupPolicy:
    """A group's limits as the admin console and the API show them."""
    id: int
    name: str
    monthly_budget: Decimal | None
    allowed_models: list[str] | None  # None: any model
    allowed_resolutions: list[str] | None  # None: any resolution
    oidc_name: str | None = None  # its name in the OIDC groups claim (None: its own name only)


@dataclass(frozen=True)
class MemberInfo:
    user_id: int
    email: str
    name: str
    role: str
    source: str


def _audit(s: Session, actor_id: int | None, action: str, target: str, detail: str = '') -> None:
    s.add(AuditEvent(actor_id=actor_id, action=action, target=target[:255], detail=detail))


def _is_admin(s: Session, user_id: int) -> bool:
    user = s.get(User, user_id)
    return bool(user and user.is_admin and not user.disabled)


def _group(s: Session, group_id: int) -> Group:
    group = s.get(Group, group_id)
    if group is None:
        raise NotFound('That group does not exist.')
    return group


def _membership(s: Session, group_id: int, user_id: int) -> GroupMember | None:
    return s.exec(select(GroupMember).where(col(GroupMember.group_id) == group_id,
                                            col(GroupMember.user_id) == user_id)).first()


def _may_manage(s: Session, actor_id: int, group_id: int) -> None:
    """App admins manage every group; a group's own admins manage its members."""
    if _is_admin(s, actor_id):
        return
    member = _membership(s, group_id, actor_id)
    if member is None:
        raise NotFound('That group does not exist.')
    if member.role != 'admin':
        raise Forbidden("Only an admin can change this group's members.")


def _clean_name(name: str) -> str:
    cleaned = ' '.join((name or '').split())
    if not cleaned or len(cleaned) > MAX_GROUP_NAME or not cleaned.isprintable():
        raise InvalidInput(f'Give the group a name of 1 to {MAX_GROUP_NAME} characters (no control characters).',
                           field='name')
    return cleaned


def _name_free(s: Session, name: str, group_id: int | None = None) -> None:
    # Exact too: SQLite's lower() folds ASCII only, so 'Ø' and 'Ø' must still meet here, not at the unique index.
    other = s.exec(select(Group).where(sa.or_(col(Group.name) == name,
                                              func.lower(col(Group.name)) == name.lower()))).first()
    if other is not None and other.id != group_id:
        raise InvalidInput(f'There is already a group called "{name}".', field='name')


def _require_admin(s: Session, actor_id: int, message: str) -> None:
    if not _is_admin(s, actor_id):
        raise Forbidden(message)


def _policy(group: Group) -> GroupPolicy:
    assert group.id is not None
    return GroupPolicy(id=group.id, name=group.name,
                       monthly_budget=Decimal(group.monthly_budget) if group.monthly_budget else None,
                       allowed_models=json.loads(group.allowed_models) if group.allowed_models else None,
                       allowed_resolutions=json.loads(group.allowed_resolutions) if group.allowed_resolutions
                       else None, oidc_name=group.oidc_name)


def _clean_oidc_name(oidc_name: str | None) -> str | None:
    """None or blank: the claim matches the group's own name only."""
    cleaned = (oidc_name or '').strip()
    if not cleaned:
        return None
    if len(cleaned) > MAX_OIDC_NAME or not cleaned.isprintable():
        raise InvalidInput(f'An OIDC group name has 1 to {MAX_OIDC_NAME} characters (no control characters).',
                           field='oidc_name')
    return cleaned


def _oidc_name_free(s: Session, oidc_name: str, group_id: int | None = None) -> None:
    """The claim matches case-insensitively, by name or OIDC name: one claim entry must name one group only."""
    lowered = oidc_name.lower()
    for other in s.exec(select(Group)):
        if other.id != group_id and lowered in (other.name.lower(), (other.oidc_name or '').lower()):
            raise InvalidInput(f'The group "{other.name}" already answers to "{oidc_name}" in the OIDC claim.',
                               field='oidc_name')


def _check_role(role: str) -> str:
    if role not in GROUP_ROLES:
        raise InvalidInput(f'Choose a role of {", ".join(GROUP_ROLES)}.', field='role')
    return role


class GroupService:
    def __init__(self, db: Database, *, clock: Callable[[], datetime] = utcnow) -> None:
        self.db = db
        self.clock = clock

    def _info(self, s: Session, group: Group, user_id: int) -> GroupInfo:
        assert group.id is not None
        count = s.exec(select(func.count()).select_from(GroupMember).where(col(GroupMember.group_id) == group.id)).one()
        member = _membership(s, group.id, user_id)
        return GroupInfo(id=group.id, name=group.name, members=int(count), role=member.role if member else None,
                         oidc_name=group.oidc_name if _is_admin(s, user_id) else None)

    async def create(self, actor_id: int, name: str, *, oidc_name: str | None = None) -> GroupInfo:
        cleaned, claim_name = _clean_name(name), _clean_oidc_name(oidc_name)

        def work(s: Session) -> GroupInfo:
            _require_admin(s, actor_id, 'Only an admin can create groups.')
            _name_free(s, cleaned)
            if claim_name:
                _oidc_name_free(s, claim_name)
            group = Group(name=cleaned, oidc_name=claim_name, created_at=self.clock())
            s.add(group)
            s.flush()
            _audit(s, actor_id, 'group.create', f'group:{group.id}',
                   cleaned + (f' (OIDC name {claim_name})' if claim_name else ''))
            s.commit()
            return self._info(s, group, actor_id)
        return await self.db.write(work)

    async def rename(self, actor_id: int, group_id: int, name: str) -> GroupInfo:
        cleaned = _clean_name(name)

        def work(s: Session) -> GroupInfo:
            _require_admin(s, actor_id, 'Only an admin can rename groups.')
            group = _group(s, group_id)
            _name_free(s, cleaned, group_id)
            if group.name != cleaned:
                _audit(s, actor_id, 'group.rename', f'group:{group_id}', f'{group.name} -> {cleaned}')
                group.name = cleaned
                s.add(group)
            s.commit()
            return self._info(s, group, actor_id)
        return await self.db.write(work)

    async def set_oidc_name(self, actor_id: int, group_id: int, oidc_name: str | None) -> GroupInfo:
        """An app admin sets the name the OIDC groups claim uses for this group (None or blank: its own name only).
        The claim then matches either, case-insensitively."""
        claim_name = _clean_oidc_name(oidc_name)

        def work(s: Session) -> GroupInfo:
            _require_admin(s, actor_id, "Only an admin can change a group's OIDC name.")
            group = _group(s, group_id)
            if claim_name:
                _oidc_name_free(s, claim_name, group_id)
            if group.oidc_name != claim_name:
                _audit(s, actor_id, 'group.oidc_name', f'group:{group_id}', f'{group.oidc_name} -> {claim_name}')
                group.oidc_name = claim_name
                s.add(group)
            s.commit()
            return self._info(s, group, actor_id)
        return await self.db.write(work)

    async def delete(self, actor_id: int, group_id: int) -> None:
        """Delete a group: its memberships go with it; boards shared with it become private to their owners."""
        def work(s: Session) -> None:
            _require_admin(s, actor_id, 'Only an admin can delete groups.')
            group = _group(s, group_id)
            # Explicitly, not by the foreign keys' ON DELETE: SQLite enforces them only with the pragma on.
            s.execute(sa.update(Board).where(col(Board.group_id) == group_id).values(group_id=None))
            s.execute(sa.delete(GroupMember).where(col(GroupMember.group_id) == group_id))
            _audit(s, actor_id, 'group.delete', f'group:{group_id}', group.name)
            s.delete(group)
            s.commit()
        await self.db.write(work)

    async def policy(self, actor_id: int, group_id: int) -> GroupPolicy:
        def work(s: Session) -> GroupPolicy:
            _require_admin(s, actor_id, "Only an admin can see a group's budget and models.")
            return _policy(_group(s, group_id))
        return await self.db.run(work)

    async def add_member(self, actor_id: int, group_id: int, user_id: int, role: str = 'member', *,
                         source: str = 'manual') -> None:
        """Add someone (or change their role when they are in already)."""
        _check_role(role)

        def work(s: Session) -> None:
            _group(s, group_id)
            _may_manage(s, actor_id, group_id)
            if s.get(User, user_id) is None:
                raise NotFound('That user does not exist.')
            member = _membership(s, group_id, user_id)
            if member is None:
                s.add(GroupMember(group_id=group_id, user_id=user_id, role=role, source=source,
                                  created_at=self.clock()))
                _audit(s, actor_id, 'group.member_add', f'group:{group_id}', f'user:{user_id} role:{role}')
            elif member.role != role:
                old, member.role = member.role, role
                s.add(member)
                _audit(s, actor_id, 'group.role', f'group:{group_id}', f'user:{user_id} {old}->{role}')
            s.commit()
        await self.db.write(work)

    async def set_policy(self, actor_id: int, group_id: int, *, monthly_budget: Decimal | None = None,
                         allowed_models: list[str] | None = None, allowed_resolutions: list[str] | None = None) -> None:
        """An app admin sets the group's monthly budget (None or 0: none) and allow-lists (None: anything)."""
        if monthly_budget is not None and (not monthly_budget.is_finite() or monthly_budget < 0):
            raise InvalidInput('A budget is a positive number of dollars (0: no budget).', field='monthly_budget')
        resolutions = [str(r).strip().upper() for r in allowed_resolutions] if allowed_resolutions is not None else None
        if resolutions is not None and any(r not in RESOLUTIONS and not r.isdigit() for r in resolutions):
            raise InvalidInput('Resolutions are 1K, 2K, 4K or pixel sizes like 1024.', field='allowed_resolutions')

        def work(s: Session) -> None:
            _require_admin(s, actor_id, "Only an admin can change a group's budget and models.")
            group = _group(s, group_id)
            group.monthly_budget = monthly_budget if monthly_budget else None
            group.allowed_models = json.dumps(sorted(set(allowed_models))) if allowed_models is not None else None
            group.allowed_resolutions = json.dumps(resolutions) if resolutions is not None else None
            s.add(group)
            _audit(s, actor_id, 'group.policy', f'group:{group_id}',
                   f'budget:{group.monthly_budget} models:{group.allowed_models} resolutions:{group.allowed_resolutions}')
            s.commit()
        await self.db.write(work)

    async def set_role(self, actor_id: int, group_id: int, user_id: int, role: str) -> None:
        """Change the role of someone already in the group (adding is add_member's)."""
        _check_role(role)

        def work(s: Session) -> None:
            _group(s, group_id)
            _may_manage(s, actor_id, group_id)
            member = _membership(s, group_id, user_id)
            if member is None:
                raise NotFound('That person is not in the group.')
            if member.role != role:
                _audit(s, actor_id, 'group.role', f'group:{group_id}', f'user:{user_id} {member.role}->{role}')
                member.role = role
                s.add(member)
            s.commit()
        await self.db.write(work)

    async def remove_member(self, actor_id: int, group_id: int, user_id: int) -> None:
        def work(s: Session) -> None:
            _group(s, group_id)
            _may_manage(s, actor_id, group_id)
            member = _membership(s, group_id, user_id)
            if member is None:
                raise NotFound('That person is not in the group.')
            s.delete(member)
            _audit(s, actor_id, 'group.member_remove', f'group:{group_id}', f'user:{user_id}')
            s.commit()
        await self.db.write(work)

    async def groups_of(self, user_id: int) -> list[GroupInfo]:
        """The groups the user is in, by name."""
        def work(s: Session) -> list[GroupInfo]:
            rows = s.exec(select(Group).join(GroupMember, col(GroupMember.group_id) == col(Group.id))
                          .where(col(GroupMember.user_id) == user_id).order_by(col(Group.name)))
            return [self._info(s, g, user_id) for g in rows]
        return await self.db.run(work)

    async def visible_groups(self, actor_id: int) -> list[GroupInfo]:
        """Every group for an app admin; anyone else's own groups (so a script can find the group to share with)."""
        if await self.db.run(lambda s: _is_admin(s, actor_id)):
            return await self.all_groups(actor_id)
        return await self.groups_of(actor_id)

    async def all_groups(self, actor_id: int) -> list[GroupInfo]:
        def work(s: Session) -> list[GroupInfo]:
            _require_admin(s, actor_id, 'Only an admin can list every group.')
            return [self._info(s, g, actor_id) for g in s.exec(select(Group).order_by(col(Group.name)))]
        return await self.db.run(work)

    async def sync_from_claim(self, user_id: int, names: tuple[str, ...]) -> None:
        """OIDC sign-in with NANOGEN_OIDC_GROUPS_CLAIM: join the existing groups named (by name or `oidc_name`) in
        the claim as a member, and leave those joined this way earlier that the claim no longer names. Manual
        memberships are never touched. Audited with no actor."""
        wanted = {n.strip().lower() for n in names if n.strip()}

        def work(s: Session) -> None:
            for group in s.exec(select(Group)):
                assert group.id is not None
                named = group.name.lower() in wanted or (group.oidc_name or '').lower() in wanted
                member = _membership(s, group.id, user_id)
                if named and member is None:
                    s.add(GroupMember(group_id=group.id, user_id=user_id, role='member', source='oidc',
                                      created_at=self.clock()))
                    _audit(s, None, 'group.member_add', f'group:{group.id}', f'user:{user_id} role:member (oidc)')
                elif not named and member is not None and member.source == 'oidc':
                    s.delete(member)
                    _audit(s, None, 'group.member_remove', f'group:{group.id}', f'user:{user_id} (oidc)')
            s.commit()
        await self.db.write(work)

    async def spend_by_group(self, actor_id: int) -> list[GroupSpend]:
        """This month's spend of each group (its members' together), for the admin console."""
        now = self.clock()

        def work(s: Session) -> list[GroupSpend]:
            if not _is_admin(s, actor_id):
                raise Forbidden('Only an admin can see spend per group.')
            out = []
            for group in s.exec(select(Group).order_by(col(Group.name))):
                assert group.id is not None
                out.append(GroupSpend(id=group.id, name=group.name, members=len(group_members(s, group.id)),
                                      spent=group_month_spend(s, group.id, now),
                                      budget=Decimal(group.monthly_budget) if group.monthly_budget else None))
            return out
        return await self.db.run(work)

    async def add_member_by_email(self, actor_id: int, group_id: int, email: str, role: str = 'member') -> None:
        user_id = await self.db.run(lambda s: s.exec(select(User.id).where(
            func.lower(col(User.email)) == (email or '').strip().lower())).first())
        if user_id is None:
            raise NotFound('Nobody with that email has signed in yet.')
        await self.add_member(actor_id, group_id, user_id, role)

    async def members(self, actor_id: int, group_id: int) -> list[MemberInfo]:
        """A group's members, for an app admin or anyone in the group."""
        def work(s: Session) -> list[MemberInfo]:
            _group(s, group_id)
            if not _is_admin(s, actor_id) and _membership(s, group_id, actor_id) is None:
                raise NotFound('That group does not exist.')
            rows = s.execute(sa.select(col(User.id), col(User.email), col(User.name), col(GroupMember.role),
                                       col(GroupMember.source))
                             .join(GroupMember, col(GroupMember.user_id) == col(User.id))
                             .where(col(GroupMember.group_id) == group_id).order_by(col(User.email)))
            return [MemberInfo(user_id=r[0], email=r[1], name=r[2], role=r[3], source=r[4]) for r in rows]
        return await self.db.run(work)
