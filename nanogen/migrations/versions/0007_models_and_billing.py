"""models: resolution, Nano Banana 2 options, what the provider billed

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-02

`prompts.resolution` (1K/2K/4K for Nano Banana Pro and 2; NULL for Nano Banana, sized in pixels by `image_size`),
`google_search` and `output_format` (Nano Banana 2's options), `billed_operation` (the provider's `operationType`,
e.g. `nano-banana-2_1k`: the model and resolution it billed) and `billing_mismatch` (it billed something else than
was estimated). Versions: `prompts.source_image_id` (the image an edit by instruction starts from) and
`images.parent_image_id` (the image this one is an edited version of). Plain integer columns, no foreign keys: a
purged parent leaves an id that no reader finds, which ends the lineage there. Plain ADD COLUMNs: no table
rebuild, so 0002's SQLite search triggers stay.
"""
import sqlalchemy as sa
from alembic import op

revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None

COLUMNS = ('resolution', 'google_search', 'output_format', 'billed_operation', 'billing_mismatch')


def upgrade() -> None:
    op.add_column('prompts', sa.Column('resolution', sa.String(length=4), nullable=True))
    op.add_column('prompts', sa.Column('google_search', sa.Boolean(), nullable=False, server_default=sa.false()))
    op.add_column('prompts', sa.Column('output_format', sa.String(length=4), nullable=True))
    op.add_column('prompts', sa.Column('billed_operation', sa.String(length=64), nullable=True))
    op.add_column('prompts', sa.Column('billing_mismatch', sa.Boolean(), nullable=False, server_default=sa.false()))
    op.add_column('prompts', sa.Column('source_image_id', sa.Integer(), nullable=True))
    op.add_column('images', sa.Column('parent_image_id', sa.Integer(), nullable=True))
    op.create_index('ix_images_parent_image_id', 'images', ['parent_image_id'])


def downgrade() -> None:
    # SQLite 3.35+ drops a column in place; a batch rebuild would lose 0002's triggers.
    op.drop_index('ix_images_parent_image_id', table_name='images')
    op.execute('ALTER TABLE images DROP COLUMN parent_image_id')
    op.execute('ALTER TABLE prompts DROP COLUMN source_image_id')
    for name in reversed(COLUMNS):
        op.execute(f'ALTER TABLE prompts DROP COLUMN {name}')
