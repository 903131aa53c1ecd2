"""paused clocks (挂起): a case's pause request, reason kind, start, the working time
left and the working days paused in all; granting and resuming set deadlines

Revision ID: 0016
Revises: 0015

The partial index of deadline-setting events takes the two new actions (a granted
pause ends an obligation with no deadline, resuming starts one).
"""
import sqlalchemy as sa
import sqlmodel
from alembic import op

revision = '0016'
down_revision = '0015'
branch_labels = None
depends_on = None

BEFORE = "action IN ('assign', 'reassign', 'reopen', 'grant_extension')"
AFTER = ("action IN ('assign', 'reassign', 'reopen', 'grant_extension', 'grant_pause', "
         "'resume')")


def _deadline_index(predicate: str) -> None:
    op.drop_index('ix_caseevent_deadline_set', table_name='caseevent')
    op.create_index('ix_caseevent_deadline_set', 'caseevent', ['deadline_at'], unique=False,
                    sqlite_where=sa.text(predicate), postgresql_where=sa.text(predicate))


def upgrade() -> None:
    # plain ADD COLUMN (no batch copy of a table other rows point at)
    op.add_column('work_order', sa.Column('pause_requested', sa.Boolean(), nullable=False,
                                          server_default=sa.false()))
    op.add_column('work_order', sa.Column('pause_kind', sqlmodel.sql.sqltypes.AutoString(
        length=40), nullable=True))
    op.add_column('work_order', sa.Column('paused_at', sqlmodel.sql.sqltypes.UTCDateTime(),
                                          nullable=True))
    op.add_column('work_order', sa.Column('pause_left_days', sa.Float(), nullable=True))
    op.add_column('work_order', sa.Column('paused_days', sa.Float(), nullable=False,
                                          server_default="0"))
    _deadline_index(AFTER)


def downgrade() -> None:
    _deadline_index(BEFORE)
    with op.batch_alter_table('work_order') as batch:
        for column in ('paused_days', 'pause_left_days', 'paused_at', 'pause_kind',
                       'pause_requested'):
            batch.drop_column(column)
