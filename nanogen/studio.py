"""What the NiceGUI pages may call: the Studio facade (issue 13). Services the pages use, with their methods bound
to the database; never the database, HTTP client, storage or provider client themselves."""

from __future__ import annotations

from dataclasses import dataclass

from pydantic_settings import SettingsConfigDict

from nanogen.accounts.groups import GroupService
from nanogen.accounts.guard import LocalSignIn, SessionAuth
from nanogen.accounts.tokens import TokenService
from nanogen.accounts.users import UserService
from nanogen.batches.service import BatchService
from nanogen.config import Settings
from nanogen.events import EventBus
from nanogen.generation.budget import BudgetService
from nanogen.generation.edits import Edits
from nanogen.generation.service import GenerationService
from nanogen.images.references import ReferenceStore
from nanogen.library.service import Library
from nanogen.ops.admin import AdminService
from nanogen.ops.stats import StatsService
from nanogen.ops.usage import UsageService
from nanogen.webhooks import WebhookService


@dataclass(frozen=True)
class Studio:
    """`ctx.services` on every page. Frozen: a page cannot swap a service; `settings` is a frozen copy."""

    settings: Settings
    demo_mode: bool
    auth: SessionAuth  # the frame re-checks a tab's session
    users: UserService
    local_sign_in: LocalSignIn | None
    bus: EventBus  # the frame forwards prompt events to the user's open tabs
    generation: GenerationService
    library: Library
    groups: GroupService
    budget: BudgetService
    admin: AdminService
    tokens: TokenService
    references: ReferenceStore | None
    stats: StatsService
    usage: UsageService
    edits: Edits | None = None  # edit by instruction, versions
    webhooks: WebhookService | None = None  # the profile's Webhooks card
    batches: BatchService | None = None  # batches and their fair queue (issue 17)


def frozen_settings(settings: Settings) -> Settings:
    """A copy that refuses assignment (pydantic's frozen config), so no page changes a setting for everyone."""
    return _FrozenSettings.model_construct(_fields_set=settings.model_fields_set, **dict(settings))


class _FrozenSettings(Settings):
    model_config = SettingsConfigDict(**Settings.model_config, frozen=True)

