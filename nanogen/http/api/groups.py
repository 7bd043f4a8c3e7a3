"""/api/v1/groups (issue 16): app admins create, rename and delete groups, set their OIDC names, members and roles,
and their monthly budget and model/resolution allow-lists. Each change is audited by nanogen.accounts.groups.

`GET /groups` lists every group for an app admin and the caller's own groups for anyone else (with their role), so a
script can find the group_id a board is shared with. Other changes by a caller who is not an app admin get 403 (a
group's own admins may still manage its members); a missing group 404.
"""

# No `from __future__ import annotations`: FastAPI must see the route signatures' local aliases (Who) as objects.
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from fastapi import APIRouter
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from nanogen.accounts.groups import GroupInfo, GroupPolicy
from nanogen.errors import InvalidInput
from nanogen.http.api.common import BY_ID, IdPath, err, ok
from nanogen.http.api.models import Envelope

if TYPE_CHECKING:
    from nanogen.bootstrap import Services

ADMIN = {**BY_ID, 403: err('Only an admin may do this.')}


class GroupOut(BaseModel):
    id: int
    name: str
    members: int
    role: str | None = Field(description="The caller's role in it (member, editor or admin); null: not a member.")
    oidc_name: str | None = Field(description='Its name in the OIDC groups claim, beside its own name (null: its own '
                                              'name only). Shown to app admins only.')


OIDC_NAME = Field(default=None, max_length=255, description="The group's name in the OIDC groups claim (null or "
                                                           "empty: its own name only).")


class GroupIn(BaseModel):
    name: str = Field(max_length=200)
    oidc_name: str | None = OIDC_NAME


class GroupPatch(BaseModel):
    name: str | None = Field(default=None, max_length=200, description='Omitted: unchanged.')
    oidc_name: str | None = Field(default=None, max_length=255, description='Omitted: unchanged; null or empty: the '
                                                                            "group's own name only.")


class MemberOut(BaseModel):
    user_id: int
    email: str
    name: str
    role: str = Field(description='member, editor or admin.')
    source: str = Field(description='manual, or oidc (from the groups claim).')


class MemberIn(BaseModel):
    email: str = Field(max_length=320, description='Someone who has signed in at least once.')
    role: str = Field(default='member', max_length=12, description='member, editor or admin.')


class RoleIn(BaseModel):
    role: str = Field(max_length=12, description='member, editor or admin.')


class PolicyOut(BaseModel):
    id: int
    name: str
    monthly_budget: Decimal | None = Field(description="Dollars a month for the members together; null: none.")
    allowed_models: list[str] | None = Field(description='Model ids the members may use; null: any.')
    allowed_resolutions: list[str] | None = Field(description='1K, 2K, 4K or pixel sizes; null: any.')


class PolicyIn(BaseModel):
    monthly_budget: Decimal | None = Field(default=None, ge=0, le=1_000_000, description='Null or 0: no budget.')
    allowed_models: list[str] | None = Field(default=None, max_length=100)
    allowed_resolutions: list[str] | None = Field(default=None, max_length=20)


def group_out(g: GroupInfo) -> GroupOut:
    return GroupOut(id=g.id, name=g.name, members=g.members, role=g.role, oidc_name=g.oidc_name)


def policy_out(p: GroupPolicy) -> PolicyOut:
    return PolicyOut(id=p.id, name=p.name, monthly_budget=p.monthly_budget, allowed_models=p.allowed_models,
                     allowed_resolutions=p.allowed_resolutions)


def build_groups_router(services: 'Services', Who: Any) -> APIRouter:
    """One short route per operation; the service checks who may do what and writes the audit log.

    Long because: nine routes (groups, members, policy), each a few lines, read best together."""
    router = APIRouter(tags=['groups'])
    groups = services.groups

    @router.get('/groups', response_model=Envelope[list[GroupOut]],
                summary='Every group (admin); your own groups (anyone else)')
    async def list_groups(who: Who) -> JSONResponse:
        return ok([group_out(g) for g in await groups.visible_groups(who.id)])

    @router.post('/groups', response_model=Envelope[GroupOut], status_code=201, responses=ADMIN,
                 summary='Create a group (admin)')
    async def create_group(who: Who, body: GroupIn) -> JSONResponse:
        return ok(group_out(await groups.create(who.id, body.name, oidc_name=body.oidc_name)), status=201)

    @router.patch('/groups/{group_id}', response_model=Envelope[GroupOut], responses=ADMIN,
                  summary='Rename a group or set its OIDC name (admin)')
    async def update_group(group_id: IdPath, who: Who, body: GroupPatch) -> JSONResponse:
        sent = body.model_fields_set
        if not sent & {'name', 'oidc_name'} or ('name' in sent and body.name is None):
            raise InvalidInput('Send a name, an oidc_name, or both.', field='name')
        info = None
        if 'oidc_name' in sent:  # first: its uniqueness is the likelier refusal, and then nothing has changed
            info = await groups.set_oidc_name(who.id, group_id, body.oidc_name)
        if 'name' in sent:
            info = await groups.rename(who.id, group_id, body.name or '')
        assert info is not None
        return ok(group_out(info))

    @router.delete('/groups/{group_id}', response_model=Envelope[None], responses=ADMIN,
                   summary='Delete a group (its boards become private to their owners)')
    async def delete_group(group_id: IdPath, who: Who) -> JSONResponse:
        await groups.delete(who.id, group_id)
        return ok(None)

    @router.get('/groups/{group_id}/members', response_model=Envelope[list[MemberOut]], responses=ADMIN,
                summary="A group's members")
    async def list_members(group_id: IdPath, who: Who) -> JSONResponse:
        return ok([MemberOut(user_id=m.user_id, email=m.email, name=m.name, role=m.role, source=m.source)
                   for m in await groups.members(who.id, group_id)])

    @router.post('/groups/{group_id}/members', response_model=Envelope[None], status_code=201, responses=ADMIN,
                 summary='Add a member by email (admin, or the group\'s admin)')
    async def add_member(group_id: IdPath, who: Who, body: MemberIn) -> JSONResponse:
        await groups.add_member_by_email(who.id, group_id, body.email, body.role)
        return ok(None, status=201)

    @router.patch('/groups/{group_id}/members/{user_id}', response_model=Envelope[None], responses=ADMIN,
                  summary="Change a member's role")
    async def set_role(group_id: IdPath, user_id: IdPath, who: Who, body: RoleIn) -> JSONResponse:
        await groups.set_role(who.id, group_id, user_id, body.role)
        return ok(None)

    @router.delete('/groups/{group_id}/members/{user_id}', response_model=Envelope[None], responses=ADMIN,
                   summary='Remove a member')
    async def remove_member(group_id: IdPath, user_id: IdPath, who: Who) -> JSONResponse:
        await groups.remove_member(who.id, group_id, user_id)
        return ok(None)

    @router.get('/groups/{group_id}/policy', response_model=Envelope[PolicyOut], responses=ADMIN,
                summary="A group's monthly budget and allow-lists (admin)")
    async def get_policy(group_id: IdPath, who: Who) -> JSONResponse:
        return ok(policy_out(await groups.policy(who.id, group_id)))

    @router.put('/groups/{group_id}/policy', response_model=Envelope[PolicyOut], responses=ADMIN,
                summary="Set a group's monthly budget and allow-lists (admin)")
    async def set_policy(group_id: IdPath, who: Who, body: PolicyIn) -> JSONResponse:
        await groups.set_policy(who.id, group_id, monthly_budget=body.monthly_budget,
                                allowed_models=body.allowed_models, allowed_resolutions=body.allowed_resolutions)
        return ok(policy_out(await groups.policy(who.id, group_id)))

    return router
