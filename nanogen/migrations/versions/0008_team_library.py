"""team library: groups, members and roles, boards, board images, public board links, tags, ratings, saved searches

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-02

Issue 16. New tables only (no column is added to an existing table, so 0002's SQLite search triggers stay).
"""
import sqlalchemy as sa
from alembic import op

from nanogen.models import UTCDateTime

revision = '0008'
down_revision = '0007'
branch_labels = None
depends_on = None

AUTOINC = {'sqlite_autoincrement': True}


def _fk(table: str, ondelete: str, **kw: object) -> sa.ForeignKey:
    return sa.ForeignKey(f'{table}.id', ondelete=ondelete, **kw)  # type: ignore[arg-type]


def upgrade() -> None:
    op.create_table('groups',
                    sa.Column('id', sa.Integer, primary_key=True),
                    sa.Column('name', sa.String(100), nullable=False, unique=True),
                    sa.Column('oidc_name', sa.String(255), nullable=True, unique=True),
                    sa.Column('monthly_budget', sa.Numeric(12, 6), nullable=True),
                    sa.Column('allowed_models', sa.Text, nullable=True),
                    sa.Column('allowed_resolutions', sa.Text, nullable=True),
                    sa.Column('created_at', UTCDateTime(), nullable=False), **AUTOINC)
    op.create_table('group_members',
                    sa.Column('id', sa.Integer, primary_key=True),
                    sa.Column('group_id', sa.Integer, _fk('groups', 'CASCADE'), nullable=False, index=True),
                    sa.Column('user_id', sa.Integer, _fk('users', 'CASCADE'), nullable=False, index=True),
                    sa.Column('role', sa.String(12), nullable=False),
                    sa.Column('source', sa.String(12), nullable=False),
                    sa.Column('created_at', UTCDateTime(), nullable=False),
                    sa.UniqueConstraint('group_id', 'user_id', name='uq_group_members'),
                    sa.CheckConstraint("role IN ('member','editor','admin')", name='ck_group_members_role'))
    op.create_table('boards',
                    sa.Column('id', sa.Integer, primary_key=True),
                    sa.Column('user_id', sa.Integer, _fk('users', 'CASCADE'), nullable=False, index=True),
                    sa.Column('name', sa.String(100), nullable=False),
                    sa.Column('description', sa.String(1000), nullable=False),
                    sa.Column('cover_image_id', sa.Integer, _fk('images', 'SET NULL'), nullable=True),
                    sa.Column('group_id', sa.Integer, _fk('groups', 'SET NULL'), nullable=True, index=True),
                    sa.Column('created_at', UTCDateTime(), nullable=False), **AUTOINC)
    op.create_table('board_images',
                    sa.Column('board_id', sa.Integer, _fk('boards', 'CASCADE'), primary_key=True),
                    sa.Column('image_id', sa.Integer, _fk('images', 'CASCADE'), primary_key=True, index=True),
                    sa.Column('added_by', sa.Integer, _fk('users', 'SET NULL'), nullable=True),
                    sa.Column('created_at', UTCDateTime(), nullable=False))
    op.create_table('board_links',
                    sa.Column('id', sa.Integer, primary_key=True),
                    sa.Column('board_id', sa.Integer, _fk('boards', 'CASCADE'), nullable=False, index=True),
                    sa.Column('token_hash', sa.String(64), nullable=False, unique=True),
                    sa.Column('expires_at', UTCDateTime(), nullable=True),
                    sa.Column('revoked_at', UTCDateTime(), nullable=True),
                    sa.Column('created_at', UTCDateTime(), nullable=False), **AUTOINC)
    op.create_table('image_tags',
                    sa.Column('image_id', sa.Integer, _fk('images', 'CASCADE'), primary_key=True),
                    sa.Column('tag', sa.String(40), primary_key=True))
    op.create_index('ix_image_tags_tag', 'image_tags', ['tag'])
    op.create_table('image_ratings',
                    sa.Column('image_id', sa.Integer, _fk('images', 'CASCADE'), primary_key=True),
                    sa.Column('stars', sa.SmallInteger, nullable=False, index=True),
                    sa.CheckConstraint('stars BETWEEN 1 AND 5', name='ck_image_ratings_stars'))
    op.create_table('saved_searches',
                    sa.Column('id', sa.Integer, primary_key=True),
                    sa.Column('user_id', sa.Integer, _fk('users', 'CASCADE'), nullable=False, index=True),
                    sa.Column('name', sa.String(60), nullable=False),
                    sa.Column('query', sa.Text, nullable=False),
                    sa.Column('created_at', UTCDateTime(), nullable=False), **AUTOINC)


def downgrade() -> None:
    for table in ('saved_searches', 'image_ratings', 'image_tags', 'board_links', 'board_images', 'boards',
                  'group_members', 'groups'):
        op.drop_table(table)
