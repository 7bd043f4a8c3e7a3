"""SQLModel tables and the public shapes pages and the API hand out (never a row with secrets)."""

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

    @property
    def finished(self) -> bool:
        return self in (Status.COMPLETED, Status.FAILED, Status.CANCELLED)


UNFINISHED = (Status.PENDING.value, Status.PROCESSING.value)


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
        sa.CheckConstraint("status IN ('PENDING','PROCESSING','COMPLETED','FAILED','CANCELLED')",
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
    response_data: str | None = Field(default=None, sa_type=sa.Text)  # last record-info data, JSON
    estimated_cost: Decimal = Field(default=Decimal(0), sa_type=MONEY)
    cost: Decimal = Field(default=Decimal(0), sa_type=MONEY)
    duration_ms: int | None = None
    status: str = Field(default=Status.PENDING.value, max_length=12, index=True)
    error_message: str | None = Field(default=None, sa_type=sa.Text)
    provider_task_id: str | None = Field(default=None, max_length=128, index=True)
    submit_attempts: int = 0
    idempotency_key: str | None = Field(default=None, max_length=128)
    request_fingerprint: str | None = Field(default=None, max_length=64)  # SHA-256 of the whole API request
    lease_owner: str | None = Field(default=None, max_length=64)
    lease_expires_at: datetime | None = _opt_ts()
    submitted_at: datetime | None = _opt_ts()
    completed_at: datetime | None = _opt_ts()
    created_at: datetime = _ts(index=True)
    updated_at: datetime = _ts()


class Image(SQLModel, table=True):
    """One stored image: the processed file, the provider's original and a WebP thumbnail."""

    __tablename__ = 'images'
    __table_args__ = (
        sa.Index('ix_images_user_created', 'user_id', 'created_at'),
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
