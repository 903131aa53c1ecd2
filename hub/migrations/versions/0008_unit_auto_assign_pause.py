"""an admin may pause automatic dispatch to a unit (/admin/units)

Revision ID: 0008
Revises: 0007
"""
import sqlalchemy as sa
from alembic import op

revision = '0008'
down_revision = '0007'
branch_labels = None
depends_on = None


def upgrade() -> None:
    # plain ADD COLUMN on both databases: SQLite's batch mode would copy and drop the
    # table, which its foreign keys (cases, users) forbid once units exist
    op.add_column('unit', sa.Column('auto_assign_paused', sa.Boolean(), nullable=False,
                                    server_default=sa.false()))
    op.add_column('unit', sa.Column('paused_note', sa.String(length=200), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('unit') as batch:
        batch.drop_column('paused_note')
        batch.drop_column('auto_assign_paused')
