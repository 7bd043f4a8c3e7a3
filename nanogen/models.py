"""SQLModel tables and the public shapes pages and the API hand out (never a row with secrets).

Long because: every table of the schema lives here (one import registers them all for the migrations and tests)."""

from __future__ import annotations

import enum
import secrets
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from sqlalchemy.types import TypeDecorator
from sqlmodel import Field, SQLModel


def utcnow() -> datetime:
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator[datetime]):
    """Stores naive UTC, returns aware UTC, on SQLite and PostgreSQL alike."""

    impl = sa.DateTime
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            value = value.replace(tzinfo=UTC)
        return value.astimezone(UTC).replace(tzinfo=None)

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        return None if value is None else value.replace(tzinfo=UTC)


MONEY = sa.Numeric(12, 6, asdecimal=True)


class Status(str, enum.Enum):
    PENDING = 'PENDING'
    PROCESSING = 'PROCESSING'
    COMPLETED = 'COMPLETED'
    FAILED = 'FAILED'
    CANCELLED = 'CANCELLED'
    QUEUED = 'QUEUED'  # a batch row waiting for the batch feeder (nanogen/batches/feeder.py): not yet a job

    @property
    def finished(self) -> bool:
        return self in (Status.COMPLETED, Status.FAILED, Status.CANCELLED)


UNFINISHED = (Status.PENDING.value, Status.PROCESSING.value)
# What reserves its estimate in this month's spend: running prompts and batch rows still waiting their turn.
RESERVING = (*UNFINISHED, Status.QUEUED.value)


class TaskType(str, enum.Enum):
    TEXT_TO_IMAGE = 'TEXT_TO_IMAGE'
    IMAGE_TO_IMAGE = 'IMAGE_TO_IMAGE'


def _ts(**kw: Any) -> Any:
    return Field(default_factory=utcnow, sa_type=UTCDateTime, **kw)


def _opt_ts(**kw: Any) -> Any:
    return Field(default=None, sa_type=UTCDateTime, **kw)


def new_epoch() -> str:
    return secrets.token_hex(16)


# SQLite reuses the largest id after a delete unless the table says AUTOINCREMENT; these ids reach sessions, URLs
# and cache keys, so a reused one would hand a stale cookie, link or cached file to somebody else (issue 11, #3).
NEVER_REUSE_IDS = {'sqlite_autoincrement': True}


class User(SQLModel, table=True):
    __tablename__ = 'users'
    __table_args__ = NEVER_REUSE_IDS
    id: int | None = Field(default=None, primary_key=True)
    subject: str = Field(max_length=255, unique=True)  # provider's subject ('local:<email>' for local sign-in)
    email: str = Field(max_length=320, index=True)
    name: str = Field(default='', max_length=255)
    avatar_url: str = Field(default='', max_length=1024)
    is_admin: bool = False
    # Why they are an admin: 'config' (NANOGEN_ADMIN_EMAILS; goes when the list drops them), 'manual' (promoted in
    # /admin), 'first' (the dev install's first user), 'legacy' (admin before sources were recorded), '' (none).
    admin_source: str = Field(default='', max_length=16)
    disabled: bool = False
    session_version: int = 1  # unused since 0003 (session_epoch replaced it); kept so older replicas still start
    session_epoch: str = Field(default_factory=new_epoch, max_length=64)  # new on "sign out everywhere"
    monthly_budget: Decimal | None = Field(default=None, sa_type=MONEY)  # None: the default from settings
    created_at: datetime = _ts()
    last_seen_at: datetime | None = _opt_ts()


class Prompt(SQLModel, table=True):
    """One generation request and its lifecycle (the seed's `prompts` table, extended)."""

    __tablename__ = 'prompts'
    __table_args__ = (
        sa.CheckConstraint("status IN ('PENDING','PROCESSING','COMPLETED','FAILED','CANCELLED','QUEUED')",
                           name='ck_prompts_status'),
        sa.CheckConstraint("task_type IN ('TEXT_TO_IMAGE','IMAGE_TO_IMAGE')", name='ck_prompts_task_type'),
        sa.CheckConstraint('image_size IN (512, 768, 1024, 1536)', name='ck_prompts_image_size'),
        sa.CheckConstraint('num_images BETWEEN 1 AND 4', name='ck_prompts_num_images'),
        sa.CheckConstraint('cost >= 0', name='ck_prompts_cost'),
        sa.Index('ix_prompts_user_created', 'user_id', 'created_at'),
        sa.UniqueConstraint('user_id', 'idempotency_key', name='uq_prompts_idempotency'),
        NEVER_REUSE_IDS,
    )
    id: int | None = Field(default=None, primary_key=True)
    user_id: int = Field(sa_column=sa.Column(sa.Integer, sa.ForeignKey('users.id', ondelete='CASCADE'),
                                             nullable=False, index=True))
    image_id: int | None = Field(default=None, sa_column=sa.Column(
        sa.Integer, sa.ForeignKey('images.id', ondelete='SET NULL', use_alter=True, name='fk_prompts_image_id'),
        nullable=True, index=True))
    prompt: str = Field(sa_type=sa.Text)
    task_type: str = Field(default=TaskType.TEXT_TO_IMAGE.value, max_length=20)
    image_size: int = 1024
    aspect_ratio: str = Field(default='1:1', max_length=8)
    num_images: int = 1
    watermark: str | None = Field(default=None, max_length=100)
    reference_urls: str | None = Field(default=None, sa_type=sa.Text)  # JSON list
    model: str = Field(default='nanobanana', max_length=40)
    resolution: str | None = Field(default=None, max_length=4)  # Pro and 2: 1K/2K/4K (then image_size is unused)
    google_search: bool = Field(default=False, sa_column_kwargs={'server_default': sa.false()})  # 2 only
    output_format: str | None = Field(default=None, max_length=4)  # 2 only: png or jpg
    # the provider's operationType when sent; a prompt of several one-image tasks: each task's, comma-separated
    billed_operation: str | None = Field(default=None, max_length=255)
    billing_mismatch: bool = Field(default=False, sa_column_kwargs={'server_default': sa.false()})
    source_image_id: int | None = None  # an edit by instruction: the image it starts from (its images' parent)
    response_data: str | None = Field(default=None, sa_type=sa.Text)  # last record-info data, JSON
    estimated_cost: Decimal = Field(default=Decimal(0), sa_type=MONEY)
    cost: Decimal = Field(default=Decimal(0), sa_type=MONEY)
    duration_ms: int | None = None
    status: str = Field(default=Status.PENDING.value, max_length=12, index=True)
    error_message: str | None = Field(default=None, sa_type=sa.Text)
    provider_task_id: str | None = Field(default=None, max_length=128, index=True)
    # A model without numImages asked for several images: one task per image, their ids as saved (JSON list; the
    # first is also `provider_task_id` once all are submitted). NULL for a one-task prompt.
    task_ids: str | None = Field(default=None, sa_type=sa.Text)
    submit_attempts: int = 0
    idempotency_key: str | None = Field(default=None, max_length=128)
    request_fingerprint: str | None = Field(default=None, max_length=64)  # SHA-256 of the whole API request
    claim_token: str | None = Field(default=None, max_length=32)  # the step execution that may write this row
    claimed_at: datetime | None = _opt_ts()  # from the database's clock
    finish_attempts: int = Field(default=0, sa_column_kwargs={'server_default': '0'})
    suspect_submits: int = Field(default=0, sa_column_kwargs={'server_default': '0'})  # maybe billed, id lost
    submitted_at: datetime | None = _opt_ts()
    # A batch row: when the feeder released it from QUEUED (its generation starts then); NULL: at created_at.
    released_at: datetime | None = _opt_ts()
    completed_at: datetime | None = _opt_ts()
    created_at: datetime = _ts(index=True)
    updated_at: datetime = _ts()

    @property
    def started_at(self) -> datetime:
        """When its generation started: released from a batch's queue, or else made."""
        return self.released_at or self.created_at


class Batch(SQLModel, table=True):
    """A batch of prompts submitted together (issue 17): its rows are prompts linked through `batch_rows`."""

    __tablename__ = 'batches'
    __table_args__ = (
        sa.CheckConstraint("status IN ('RUNNING','PAUSED','CANCELLED','DONE')", name='ck_batches_status'),
        NEVER_REUSE_IDS,
    )
    id: int | None = Field(default=None, primary_key=True)
    user_id: int = Field(sa_column=sa.Column(sa.Integer, sa.ForeignKey('users.id', ondelete='CASCADE'),
                                             nullable=False, index=True))
    name: str = Field(default='', max_length=200)
    source: str = Field(default='lines', max_length=12)  # lines, csv, xlsx, template, rows
    status: str = Field(default='RUNNING', max_length=12, index=True)
    total_rows: int = 0
    estimated_cost: Decimal = Field(default=Decimal(0), sa_type=MONEY)
    created_at: datetime = _ts()
    finished_at: datetime | None = _opt_ts()


class BatchRow(SQLModel, table=True):
    """One row of a batch: its number, its variables, and the prompt that runs it now (a retry replaces it)."""

    __tablename__ = 'batch_rows'
    __table_args__ = (sa.UniqueConstraint('batch_id', 'row_number', name='uq_batch_rows_number'), NEVER_REUSE_IDS)
    id: int | None = Field(default=None, primary_key=True)
    batch_id: int = Field(sa_column=sa.Column(sa.Integer, sa.ForeignKey('batches.id', ondelete='CASCADE'),
                                              nullable=False, index=True))
    row_number: int
    prompt_id: int = Field(sa_column=sa.Column(sa.Integer, sa.ForeignKey('prompts.id', ondelete='CASCADE'),
                                               nullable=False, index=True))
    variables: str | None = Field(default=None, sa_type=sa.Text)  # JSON object, template batches
    reference: str | None = Field(default=None, max_length=255)  # as written in the input (an id or a file name)


class Image(SQLModel, table=True):
    """One stored image: the processed file, the provider's original and a WebP thumbnail."""

    __tablename__ = 'images'
    __table_args__ = (
        sa.Index('ix_images_user_created', 'user_id', 'created_at'),
        # Pages driven by a filter's image ids (a board's, a rare tag's) sort these without reading the rows (0012).
        sa.Index('ix_images_id_live', 'id', 'deleted_at', 'user_id', 'created_at', 'prompt_id'),
        sa.UniqueConstraint('prompt_id', 'position', name='uq_images_prompt_position'),
        NEVER_REUSE_IDS,
    )
    id: int | None = Field(default=None, primary_key=True)
    user_id: int = Field(sa_column=sa.Column(sa.Integer, sa.ForeignKey('users.id', ondelete='CASCADE'),
                                             nullable=False, index=True))
    prompt_id: int = Field(sa_column=sa.Column(sa.Integer, sa.ForeignKey('prompts.id', ondelete='CASCADE'),
                                               nullable=False, index=True))
    position: int = 0
    key: str = Field(max_length=512)
    original_key: str = Field(max_length=512)
    thumb_key: str = Field(max_length=512)
    content_type: str = Field(default='image/png', max_length=64)
    width: int = 0
    height: int = 0
    size_bytes: int = 0
    sha256: str = Field(default='', max_length=64)
    is_favourite: bool = Field(default=False, index=True)
    parent_image_id: int | None = Field(default=None, index=True)  # the image this one is an edited version of
    root_image_id: int | None = Field(default=None, index=True)  # the first of its versions (None: it is a root)
    deleted_at: datetime | None = _opt_ts()  # soft delete: undo window, then purged
    created_at: datetime = _ts()


class ApiToken(SQLModel, table=True):
    __tablename__ = 'api_tokens'
    __table_args__ = NEVER_REUSE_IDS
    id: int | None = Field(default=None, primary_key=True)
    user_id: int = Field(sa_column=sa.Column(sa.Integer, sa.ForeignKey('users.id', ondelete='CASCADE'),
                                             nullable=False, index=True))
    name: str = Field(max_length=100)
    token_hash: str = Field(max_length=64, unique=True)  # sha256 of the token; the token itself is never stored
    prefix: str = Field(max_length=16)  # first characters, to tell tokens apart in the UI
    scope: str = Field(default='generate', max_length=16)  # read / generate / admin (tokens.SCOPES)
    expires_at: datetime | None = _opt_ts()
    last_used_at: datetime | None = _opt_ts()
    revoked_at: datetime | None = _opt_ts()
    created_at: datetime = _ts()


class Share(SQLModel, table=True):
    __tablename__ = 'shares'
    __table_args__ = NEVER_REUSE_IDS
    id: int | None = Field(default=None, primary_key=True)
    image_id: int = Field(sa_column=sa.Column(sa.Integer, sa.ForeignKey('images.id', ondelete='CASCADE'),
                                              nullable=False, index=True))
    user_id: int = Field(sa_column=sa.Column(sa.Integer, sa.ForeignKey('users.id', ondelete='CASCADE'),
                                             nullable=False, index=True))
    # The link is /s/<token>, token = HMAC(secret key, salt); only sha256(token) is looked up. Shares made before
    # 0003 have neither and keep their old signed-id links.
    salt: str | None = Field(default=None, max_length=64)
    token_hash: str | None = Field(default=None, max_length=64, unique=True)
    expires_at: datetime | None = _opt_ts()
    revoked_at: datetime | None = _opt_ts()
    created_at: datetime = _ts()


class UserSession(SQLModel, table=True):
    """One signed-in browser: the cookie names it by a random id, so signing out can end it server-side."""

    __tablename__ = 'user_sessions'
    id: int | None = Field(default=None, primary_key=True)
    sid_hash: str = Field(max_length=64, unique=True)  # sha256 of the random id in the cookie
    user_id: int = Field(sa_column=sa.Column(sa.Integer, sa.ForeignKey('users.id', ondelete='CASCADE'),
                                             nullable=False, index=True))
    created_at: datetime = _ts()
    revoked_at: datetime | None = _opt_ts()


class UsedTicket(SQLModel, table=True):
    """A local sign-in ticket already redeemed; kept until it would have expired anyway (single use, all replicas)."""

    __tablename__ = 'used_tickets'
    ticket_id: str = Field(primary_key=True, max_length=64)
    expires_at: datetime = Field(sa_type=UTCDateTime, index=True)


class PendingDelete(SQLModel, table=True):
    """An object whose delete failed: retried in the background until it goes."""

    __tablename__ = 'pending_deletes'
    id: int | None = Field(default=None, primary_key=True)
    key: str = Field(max_length=512, unique=True)
    attempts: int = 0
    last_error: str | None = Field(default=None, max_length=500)
    created_at: datetime = _ts()


class AuditEvent(SQLModel, table=True):
    __tablename__ = 'audit_events'
    id: int | None = Field(default=None, primary_key=True)
    actor_id: int | None = Field(default=None, sa_column=sa.Column(
        sa.Integer, sa.ForeignKey('users.id', ondelete='SET NULL'), nullable=True, index=True))
    action: str = Field(max_length=64)
    target: str = Field(default='', max_length=255)
    detail: str = Field(default='', sa_type=sa.Text)
    created_at: datetime = _ts(index=True)


# ---------------------------------------------------------------------------------------------- team library (0008)
GROUP_ROLES = ('member', 'editor', 'admin')  # member sees shared boards; editor adds/removes; admin manages the group


class Group(SQLModel, table=True):
    """A team: its members see the boards shared with it."""

    __tablename__ = 'groups'
    __table_args__ = NEVER_REUSE_IDS
    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(max_length=100, unique=True)
    oidc_name: str | None = Field(default=None, max_length=255, unique=True)  # its name in the OIDC groups claim
    monthly_budget: Decimal | None = Field(default=None, sa_type=MONEY)  # the members' spend together; None: none
    allowed_models: str | None = Field(default=None, sa_type=sa.Text)  # JSON list of model ids; None: any
    allowed_resolutions: str | None = Field(default=None, sa_type=sa.Text)  # JSON list ('1K', '4K', '1024'); None: any
    created_at: datetime = _ts()


class GroupMember(SQLModel, table=True):
    __tablename__ = 'group_members'
    __table_args__ = (sa.UniqueConstraint('group_id', 'user_id', name='uq_group_members'),
                      sa.CheckConstraint("role IN ('member','editor','admin')", name='ck_group_members_role'))
    id: int | None = Field(default=None, primary_key=True)
    group_id: int = Field(sa_column=sa.Column(sa.Integer, sa.ForeignKey('groups.id', ondelete='CASCADE'),
                                              nullable=False, index=True))
    user_id: int = Field(sa_column=sa.Column(sa.Integer, sa.ForeignKey('users.id', ondelete='CASCADE'),
                                             nullable=False, index=True))
    role: str = Field(default='member', max_length=12)
    source: str = Field(default='manual', max_length=12)  # 'manual' (an admin added them) or 'oidc' (groups claim)
    created_at: datetime = _ts()


class Board(SQLModel, table=True):
    """A named collection of images; private to its owner unless shared with a group or by a public link."""

    __tablename__ = 'boards'
    __table_args__ = NEVER_REUSE_IDS
    id: int | None = Field(default=None, primary_key=True)
    user_id: int = Field(sa_column=sa.Column(sa.Integer, sa.ForeignKey('users.id', ondelete='CASCADE'),
                                             nullable=False, index=True))
    name: str = Field(max_length=100)
    description: str = Field(default='', max_length=1000)
    cover_image_id: int | None = Field(default=None, sa_column=sa.Column(
        sa.Integer, sa.ForeignKey('images.id', ondelete='SET NULL'), nullable=True))
    group_id: int | None = Field(default=None, sa_column=sa.Column(
        sa.Integer, sa.ForeignKey('groups.id', ondelete='SET NULL'), nullable=True, index=True))
    created_at: datetime = _ts()


class BoardImage(SQLModel, table=True):
    __tablename__ = 'board_images'
    board_id: int = Field(sa_column=sa.Column(sa.Integer, sa.ForeignKey('boards.id', ondelete='CASCADE'),
                                              primary_key=True))
    image_id: int = Field(sa_column=sa.Column(sa.Integer, sa.ForeignKey('images.id', ondelete='CASCADE'),
                                              primary_key=True, index=True))
    added_by: int | None = Field(default=None, sa_column=sa.Column(
        sa.Integer, sa.ForeignKey('users.id', ondelete='SET NULL'), nullable=True))
    created_at: datetime = _ts()


class BoardLink(SQLModel, table=True):
    """A public link to a board (/b/<token>): like an image share, random, stored as its hash, expiring, revocable."""

    __tablename__ = 'board_links'
    __table_args__ = NEVER_REUSE_IDS
    id: int | None = Field(default=None, primary_key=True)
    board_id: int = Field(sa_column=sa.Column(sa.Integer, sa.ForeignKey('boards.id', ondelete='CASCADE'),
                                              nullable=False, index=True))
    token_hash: str = Field(max_length=64, unique=True)
    expires_at: datetime | None = _opt_ts()
    revoked_at: datetime | None = _opt_ts()
    created_at: datetime = _ts()


class ImageTag(SQLModel, table=True):
    """A free tag on an image, set by the image's owner (lower case, trimmed)."""

    __tablename__ = 'image_tags'
    __table_args__ = (sa.Index('ix_image_tags_tag_image', 'tag', 'image_id'),)  # covering on SQLite (0012)
    image_id: int = Field(sa_column=sa.Column(sa.Integer, sa.ForeignKey('images.id', ondelete='CASCADE'),
                                              primary_key=True))
    tag: str = Field(sa_column=sa.Column(sa.String(40), primary_key=True))


class ImageRating(SQLModel, table=True):
    """The owner's 1-5 stars for an image (no row: unrated)."""

    __tablename__ = 'image_ratings'
    __table_args__ = (sa.CheckConstraint('stars BETWEEN 1 AND 5', name='ck_image_ratings_stars'),)
    image_id: int = Field(sa_column=sa.Column(sa.Integer, sa.ForeignKey('images.id', ondelete='CASCADE'),
                                              primary_key=True))
    stars: int = Field(sa_column=sa.Column(sa.SmallInteger, nullable=False, index=True))


class SavedSearch(SQLModel, table=True):
    """A gallery search a user named; shown as a chip that restores its filters."""

    __tablename__ = 'saved_searches'
    __table_args__ = NEVER_REUSE_IDS
    id: int | None = Field(default=None, primary_key=True)
    user_id: int = Field(sa_column=sa.Column(sa.Integer, sa.ForeignKey('users.id', ondelete='CASCADE'),
                                             nullable=False, index=True))
    name: str = Field(max_length=60)
    query: str = Field(sa_type=sa.Text)  # JSON of the filters
    created_at: datetime = _ts()
