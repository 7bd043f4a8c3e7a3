"""initial schema

Revision ID: 0001
Revises:
Create Date: 2026-11-24

prompts.image_id and images.prompt_id point at each other: SQLite accepts the forward reference inline,
PostgreSQL gets that foreign key once both tables exist.
"""
import sqlalchemy as sa
import sqlmodel
from alembic import op

import nanogen.models

revision = '0001'
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    sqlite = op.get_bind().dialect.name == 'sqlite'
    op.create_table('pending_deletes',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('key', sqlmodel.sql.sqltypes.AutoString(length=512), nullable=False),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('last_error', sqlmodel.sql.sqltypes.AutoString(length=500), nullable=True),
    sa.Column('created_at', nanogen.models.UTCDateTime(), nullable=False),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('key')
    )
    op.create_table('users',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('subject', sqlmodel.sql.sqltypes.AutoString(length=255), nullable=False),
    sa.Column('email', sqlmodel.sql.sqltypes.AutoString(length=320), nullable=False),
    sa.Column('name', sqlmodel.sql.sqltypes.AutoString(length=255), nullable=False),
    sa.Column('avatar_url', sqlmodel.sql.sqltypes.AutoString(length=1024), nullable=False),
    sa.Column('is_admin', sa.Boolean(), nullable=False),
    sa.Column('disabled', sa.Boolean(), nullable=False),
    sa.Column('session_version', sa.Integer(), nullable=False),
    sa.Column('monthly_budget', sa.Numeric(precision=12, scale=6), nullable=True),
    sa.Column('created_at', nanogen.models.UTCDateTime(), nullable=False),
    sa.Column('last_seen_at', nanogen.models.UTCDateTime(), nullable=True),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('subject')
    )
    op.create_index(op.f('ix_users_email'), 'users', ['email'], unique=False)
    op.create_table('api_tokens',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('name', sqlmodel.sql.sqltypes.AutoString(length=100), nullable=False),
    sa.Column('token_hash', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.Column('prefix', sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
    sa.Column('expires_at', nanogen.models.UTCDateTime(), nullable=True),
    sa.Column('last_used_at', nanogen.models.UTCDateTime(), nullable=True),
    sa.Column('revoked_at', nanogen.models.UTCDateTime(), nullable=True),
    sa.Column('created_at', nanogen.models.UTCDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('token_hash')
    )
    op.create_index(op.f('ix_api_tokens_user_id'), 'api_tokens', ['user_id'], unique=False)
    op.create_table('audit_events',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('actor_id', sa.Integer(), nullable=True),
    sa.Column('action', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.Column('target', sqlmodel.sql.sqltypes.AutoString(length=255), nullable=False),
    sa.Column('detail', sa.Text(), nullable=False),
    sa.Column('created_at', nanogen.models.UTCDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['actor_id'], ['users.id'], ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_index(op.f('ix_audit_events_actor_id'), 'audit_events', ['actor_id'], unique=False)
    op.create_index(op.f('ix_audit_events_created_at'), 'audit_events', ['created_at'], unique=False)
    op.create_table('prompts',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('image_id', sa.Integer(), nullable=True),
    sa.Column('prompt', sa.Text(), nullable=False),
    sa.Column('task_type', sqlmodel.sql.sqltypes.AutoString(length=20), nullable=False),
    sa.Column('image_size', sa.Integer(), nullable=False),
    sa.Column('aspect_ratio', sqlmodel.sql.sqltypes.AutoString(length=8), nullable=False),
    sa.Column('num_images', sa.Integer(), nullable=False),
    sa.Column('watermark', sqlmodel.sql.sqltypes.AutoString(length=100), nullable=True),
    sa.Column('reference_urls', sa.Text(), nullable=True),
    sa.Column('model', sqlmodel.sql.sqltypes.AutoString(length=40), nullable=False),
    sa.Column('response_data', sa.Text(), nullable=True),
    sa.Column('estimated_cost', sa.Numeric(precision=12, scale=6), nullable=False),
    sa.Column('cost', sa.Numeric(precision=12, scale=6), nullable=False),
    sa.Column('duration_ms', sa.Integer(), nullable=True),
    sa.Column('status', sqlmodel.sql.sqltypes.AutoString(length=12), nullable=False),
    sa.Column('error_message', sa.Text(), nullable=True),
    sa.Column('provider_task_id', sqlmodel.sql.sqltypes.AutoString(length=128), nullable=True),
    sa.Column('submit_attempts', sa.Integer(), nullable=False),
    sa.Column('idempotency_key', sqlmodel.sql.sqltypes.AutoString(length=128), nullable=True),
    sa.Column('lease_owner', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True),
    sa.Column('lease_expires_at', nanogen.models.UTCDateTime(), nullable=True),
    sa.Column('submitted_at', nanogen.models.UTCDateTime(), nullable=True),
    sa.Column('completed_at', nanogen.models.UTCDateTime(), nullable=True),
    sa.Column('created_at', nanogen.models.UTCDateTime(), nullable=False),
    sa.Column('updated_at', nanogen.models.UTCDateTime(), nullable=False),
    sa.CheckConstraint("status IN ('PENDING','PROCESSING','COMPLETED','FAILED','CANCELLED')", name='ck_prompts_status'),
    sa.CheckConstraint("task_type IN ('TEXT_TO_IMAGE','IMAGE_TO_IMAGE')", name='ck_prompts_task_type'),
    sa.CheckConstraint('cost >= 0', name='ck_prompts_cost'),
    sa.CheckConstraint('image_size IN (512, 768, 1024, 1536)', name='ck_prompts_image_size'),
    sa.CheckConstraint('num_images BETWEEN 1 AND 4', name='ck_prompts_num_images'),
    *([sa.ForeignKeyConstraint(['image_id'], ['images.id'], name='fk_prompts_image_id', ondelete='SET NULL')]
      if sqlite else []),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('user_id', 'idempotency_key', name='uq_prompts_idempotency')
    )
    op.create_index(op.f('ix_prompts_created_at'), 'prompts', ['created_at'], unique=False)
    op.create_index(op.f('ix_prompts_image_id'), 'prompts', ['image_id'], unique=False)
    op.create_index(op.f('ix_prompts_provider_task_id'), 'prompts', ['provider_task_id'], unique=False)
    op.create_index(op.f('ix_prompts_status'), 'prompts', ['status'], unique=False)
    op.create_index('ix_prompts_user_created', 'prompts', ['user_id', 'created_at'], unique=False)
    op.create_index(op.f('ix_prompts_user_id'), 'prompts', ['user_id'], unique=False)
    op.create_table('images',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('prompt_id', sa.Integer(), nullable=False),
    sa.Column('position', sa.Integer(), nullable=False),
    sa.Column('key', sqlmodel.sql.sqltypes.AutoString(length=512), nullable=False),
    sa.Column('original_key', sqlmodel.sql.sqltypes.AutoString(length=512), nullable=False),
    sa.Column('thumb_key', sqlmodel.sql.sqltypes.AutoString(length=512), nullable=False),
    sa.Column('content_type', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.Column('width', sa.Integer(), nullable=False),
    sa.Column('height', sa.Integer(), nullable=False),
    sa.Column('size_bytes', sa.Integer(), nullable=False),
    sa.Column('sha256', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.Column('is_favourite', sa.Boolean(), nullable=False),
    sa.Column('deleted_at', nanogen.models.UTCDateTime(), nullable=True),
    sa.Column('created_at', nanogen.models.UTCDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['prompt_id'], ['prompts.id'], ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('prompt_id', 'position', name='uq_images_prompt_position')
    )
    op.create_index(op.f('ix_images_is_favourite'), 'images', ['is_favourite'], unique=False)
    op.create_index(op.f('ix_images_prompt_id'), 'images', ['prompt_id'], unique=False)
    op.create_index('ix_images_user_created', 'images', ['user_id', 'created_at'], unique=False)
    op.create_index(op.f('ix_images_user_id'), 'images', ['user_id'], unique=False)
    op.create_table('shares',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('image_id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('expires_at', nanogen.models.UTCDateTime(), nullable=True),
    sa.Column('revoked_at', nanogen.models.UTCDateTime(), nullable=True),
    sa.Column('created_at', nanogen.models.UTCDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['image_id'], ['images.id'], ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_index(op.f('ix_shares_image_id'), 'shares', ['image_id'], unique=False)
    op.create_index(op.f('ix_shares_user_id'), 'shares', ['user_id'], unique=False)
    if not sqlite:
        op.create_foreign_key('fk_prompts_image_id', 'prompts', 'images', ['image_id'], ['id'], ondelete='SET NULL')


def downgrade() -> None:
    if op.get_bind().dialect.name != 'sqlite':
        op.drop_constraint('fk_prompts_image_id', 'prompts', type_='foreignkey')
    op.drop_index(op.f('ix_shares_user_id'), table_name='shares')
    op.drop_index(op.f('ix_shares_image_id'), table_name='shares')
    op.drop_table('shares')
    op.drop_index(op.f('ix_images_user_id'), table_name='images')
    op.drop_index('ix_images_user_created', table_name='images')
    op.drop_index(op.f('ix_images_prompt_id'), table_name='images')
    op.drop_index(op.f('ix_images_is_favourite'), table_name='images')
    op.drop_table('images')
    op.drop_index(op.f('ix_prompts_user_id'), table_name='prompts')
    op.drop_index('ix_prompts_user_created', table_name='prompts')
    op.drop_index(op.f('ix_prompts_status'), table_name='prompts')
    op.drop_index(op.f('ix_prompts_provider_task_id'), table_name='prompts')
    op.drop_index(op.f('ix_prompts_image_id'), table_name='prompts')
    op.drop_index(op.f('ix_prompts_created_at'), table_name='prompts')
    op.drop_table('prompts')
    op.drop_index(op.f('ix_audit_events_created_at'), table_name='audit_events')
    op.drop_index(op.f('ix_audit_events_actor_id'), table_name='audit_events')
    op.drop_table('audit_events')
    op.drop_index(op.f('ix_api_tokens_user_id'), table_name='api_tokens')
    op.drop_table('api_tokens')
    op.drop_index(op.f('ix_users_email'), table_name='users')
    op.drop_table('users')
    op.drop_table('pending_deletes')
