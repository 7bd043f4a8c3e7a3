"""prompt tasks and version roots: the task ids of a prompt made as several one-image tasks; each image's root

Revision ID: 0011
Revises: 0008
Create Date: 2026-12-02

Issue 15: a model without numImages (Nano Banana Pro, Nano Banana 2) asked for several images submits one task per
image for the one prompt; `prompts.task_ids` (JSON list) records each id as it is saved, so a restart between task
submits neither resubmits a saved one nor loses one. `images.root_image_id` (indexed): the first of an image's
versions, so the gallery groups versions under their root and counts them without walking parent chains; existing
versions get theirs from `parent_image_id`. Plain ADD COLUMNs: no table rebuild, so 0002's SQLite search triggers stay.
"""
import sqlalchemy as sa
from alembic import op

revision = '0011'
down_revision = '0010'
branch_labels = None
depends_on = None


MAX_DEPTH = 200  # as nanogen.generation.edits: lineages are never deeper


def upgrade() -> None:
    op.add_column('prompts', sa.Column('task_ids', sa.Text(), nullable=True))
    op.add_column('images', sa.Column('root_image_id', sa.Integer(), nullable=True))
    op.create_index('ix_images_root_image_id', 'images', ['root_image_id'])
    bind = op.get_bind()
    bind.execute(sa.text('UPDATE images SET root_image_id = parent_image_id WHERE parent_image_id IS NOT NULL'))
    for _ in range(MAX_DEPTH):  # climb one level per pass until every root names an image that has none
        moved = bind.execute(sa.text(
            'UPDATE images SET root_image_id = (SELECT p.root_image_id FROM images p WHERE p.id = images.root_image_id) '
            'WHERE root_image_id IN (SELECT q.id FROM images q WHERE q.root_image_id IS NOT NULL)'))
        if not moved.rowcount:
            break


def downgrade() -> None:
    # SQLite 3.35+ drops a column in place; a batch rebuild would lose 0002's triggers.
    op.drop_index('ix_images_root_image_id', table_name='images')
    op.execute('ALTER TABLE images DROP COLUMN root_image_id')
    op.execute('ALTER TABLE prompts DROP COLUMN task_ids')
