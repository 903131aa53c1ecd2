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
    with op.batch_alter_table('unit') as batch:
        batch.add_column(sa.Column('auto_assign_paused', sa.Boolean(), nullable=False,
                                   server_default=sa.false()))
        batch.add_column(sa.Column('paused_note', sa.String(length=200), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('unit') as batch:
        batch.drop_column('paused_note')
        batch.drop_column('auto_assign_paused')
