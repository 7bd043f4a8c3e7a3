"""Group policies (issue 16): a group's monthly budget (its members' spend together) and its allow-list of models
and resolutions. Both run inside the write-locked transaction that inserts the prompt, beside the per-user budget
and the team cap (nanogen.generation.budget).

Allow-lists: a user in no group with a list may use anything; otherwise a request must be allowed by at least one
of their groups that has a list (so "4K only for design": give the other groups a list without 4K). A resolution
entry is '1K'/'2K'/'4K' (the provider's names) or a pixel size ('1024'). A pixel size names Nano Banana's own sizes
only: the models sized by resolution (Pro, 2) are checked by their resolution alone, never by the 1024 their requests
carry as a size, so a list with "1024" does not let Pro through at 4K. A Nano Banana size also answers to its class
('1024' is 1K, '1536' is 2K), so a list of ["1K"] allows Nano Banana at 512 to 1024 px.
"""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session, col, select

from nanogen.errors import BudgetExceeded, Forbidden
from nanogen.generation.catalogue import CATALOGUE
from nanogen.models import Group, GroupMember
from nanogen.spend import group_month_spend

GROUP_LOCK_KEY = 7_263_002  # pg_advisory_xact_lock(key, group id): one group's budget check at a time
RESOLUTION_OF_SIZE = {512: '1K', 768: '1K', 1024: '1K', 1536: '2K', 2048: '2K', 4096: '4K'}


def groups_of(s: Session, user_id: int) -> list[Group]:
    return list(s.exec(select(Group).join(GroupMember, col(GroupMember.group_id) == col(Group.id))
                       .where(col(GroupMember.user_id) == user_id).order_by(col(Group.id))))


def request_terms(req: Any) -> tuple[str, set[str]]:
    """(model id, the names its resolution answers to) of a request (a GenerationRequest, or any object with its
    `model`, `size` and `resolution`)."""
    model = str(getattr(req, 'model', None) or 'nanobanana')
    resolution = getattr(req, 'resolution', None)
    if resolution:  # sized by resolution: its size is a placeholder (always 1024), never a term of its own
        return model, {str(resolution).upper()}
    size = int(getattr(req, 'size', 0) or 0)
    names = {str(size)}
    if size_class := RESOLUTION_OF_SIZE.get(size):
        names.add(size_class)
    return model, names


def check_allowed(s: Session, user_id: int, req: Any) -> None:
    """Raise Forbidden when none of the user's groups with an allow-list allows this model and resolution. When the
    model itself is on none of their lists, the message says so and names the models they may use."""
    listed = [g for g in groups_of(s, user_id) if g.allowed_models is not None or g.allowed_resolutions is not None]
    if not listed:
        return
    model, names = request_terms(req)
    model_lists: list[list[str] | None] = []
    for group in listed:
        models = json.loads(group.allowed_models) if group.allowed_models is not None else None
        model_lists.append(models)
        sizes = {str(r).upper() for r in json.loads(group.allowed_resolutions)} \
            if group.allowed_resolutions is not None else None
        if (models is None or model in models) and (sizes is None or names & sizes):
            return
    groups_do = f'Your group{"s do" if len(listed) > 1 else " does"} not allow'
    if all(models is not None and model not in models for models in model_lists):
        allowed = sorted({m for models in model_lists for m in models or ()}, key=_catalogue_order)
        raise Forbidden(f'{groups_do} the model {_model_name(model)}: choose '
                        f'{" or ".join(_model_name(m) for m in allowed) or "another model"}, or ask an admin.')
    wanted = next((n for n in names if not n.isdigit()), str(getattr(req, 'size', '')))
    raise Forbidden(f'{groups_do} {model} at {wanted}: choose another model or size, or ask an admin.')


def _model_name(model_id: str) -> str:
    spec = CATALOGUE.get(model_id)
    return f'{spec.name} ({model_id})' if spec else model_id


def _catalogue_order(model_id: str) -> int:
    return list(CATALOGUE).index(model_id) if model_id in CATALOGUE else len(CATALOGUE)


def group_budgets_left(s: Session, user_id: int, now: Any) -> list[tuple[str, Decimal]]:
    """(name, what is left this month) of each of the user's groups with a budget, for the budget widget (a read:
    the check is `check_group_budgets`)."""
    out = []
    for group in groups_of(s, user_id):
        if group.monthly_budget is None or Decimal(group.monthly_budget) <= 0 or group.id is None:
            continue
        spent = group_month_spend(s, group.id, now)
        out.append((group.name, max(Decimal(0), Decimal(group.monthly_budget) - spent)))
    return out


def check_group_budgets(s: Session, user_id: int, estimate: Decimal, now: Any, usd: Any) -> None:
    """Raise BudgetExceeded when `estimate` does not fit a budget of one of the user's groups."""
    for group in groups_of(s, user_id):
        if group.monthly_budget is None or Decimal(group.monthly_budget) <= 0:
            continue
        if s.get_bind().dialect.name == 'postgresql':
            s.execute(sa.text('SELECT pg_advisory_xact_lock(:k, :g)'), {'k': GROUP_LOCK_KEY, 'g': group.id})
        assert group.id is not None
        spent = group_month_spend(s, group.id, now)
        limit = Decimal(group.monthly_budget)
        if spent + estimate > limit:
            left = max(Decimal(0), limit - spent)
            raise BudgetExceeded(f'The {group.name} group\'s monthly budget of {usd(limit)} is spent '
                                 f'({usd(left)} left; this costs {usd(estimate)}). Ask an admin to raise it.')
