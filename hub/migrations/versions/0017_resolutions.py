"""resolutions: how a reply ended the case (with a planned date or a reason), whether
the citizen says it was solved, and a planned case's follow-up date

Revision ID: 0017
Revises: 0016
"""
import sqlalchemy as sa
import sqlmodel
from alembic import op

revision = '0017'
down_revision = '0016'
branch_labels = None
depends_on = None


def upgrade() -> None:
    # plain ADD COLUMN (no batch copy of a table other rows point at)
    op.add_column('reply', sa.Column('resolution', sqlmodel.sql.sqltypes.AutoString(length=12),
                                     nullable=True))
    op.add_column('reply', sa.Column('planned_on', sa.Date(), nullable=True))
    op.add_column('reply', sa.Column('resolution_note',
                                     sqlmodel.sql.sqltypes.AutoString(length=500), nullable=True))
    op.add_column('rating', sa.Column('solved', sa.Boolean(), nullable=True))
    op.add_column('work_order', sa.Column('follow_up_at', sqlmodel.sql.sqltypes.UTCDateTime(),
                                          nullable=True))


def downgrade() -> None:
    op.drop_column('work_order', 'follow_up_at')
    op.drop_column('rating', 'solved')
    for column in ('resolution_note', 'planned_on', 'resolution'):
        op.drop_column('reply', column)
