"""team search indexes: a covering (tag, image_id) index for tag filters, and a narrow covering index over images
by id for pages driven by a filter's image ids (boards, rare tags)

Revision ID: 0012
Revises: 0008
Create Date: 2026-12-02

Issue 16 (bench.team_search). Indexes only: no table is rebuilt, so 0002's SQLite search triggers stay.
ix_image_tags_tag (tag) is replaced: (tag, image_id) serves the same lookups and, on SQLite, where image_tags is a
rowid table, gives the image ids without reading the table.
"""
from alembic import op

revision = '0012'
down_revision = '0011'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index('ix_image_tags_tag_image', 'image_tags', ['tag', 'image_id'])
    op.drop_index('ix_image_tags_tag', table_name='image_tags')
    op.create_index('ix_images_id_live', 'images', ['id', 'deleted_at', 'user_id', 'created_at', 'prompt_id'])


def downgrade() -> None:
    op.drop_index('ix_images_id_live', table_name='images')
    op.create_index('ix_image_tags_tag', 'image_tags', ['tag'])
    op.drop_index('ix_image_tags_tag_image', table_name='image_tags')
