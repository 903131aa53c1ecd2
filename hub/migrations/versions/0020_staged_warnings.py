"""staged warnings (分级预警): a case's clock start, sent stages and next warning (with
a partial index over open work), unit heads, and the reminders sent

Revision ID: 0020
Revises: 0019
"""
import sqlalchemy as sa
import sqlmodel
from alembic import op

revision = '0020'
down_revision = '0019'
branch_labels = None
depends_on = None

OPEN_WORK = "state IN ('assigned', 'signed', 'reopened')"


def upgrade() -> None:
    # plain ADD COLUMN (no batch copy of a table other rows point at)
    op.add_column('work_order', sa.Column('clock_started_at',
                                          sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True))
    op.add_column('work_order', sa.Column('warning_stage', sa.Integer(), nullable=False,
                                          server_default="0"))
    op.add_column('work_order', sa.Column('next_warning_at',
                                          sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True))
    op.create_index('ix_work_order_next_warning', 'work_order', ['next_warning_at'],
                    unique=False, sqlite_where=sa.text(OPEN_WORK),
                    postgresql_where=sa.text(OPEN_WORK))
    op.add_column('user', sa.Column('head', sa.Boolean(), nullable=False,
                                    server_default=sa.false()))
    op.create_table(
        'reminder',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('case_id', sa.Integer(), nullable=False),
        sa.Column('unit_id', sa.Integer(), nullable=True),
        sa.Column('audience', sqlmodel.sql.sqltypes.AutoString(length=12), nullable=False),
        sa.Column('share', sa.Float(), nullable=False),
        sa.Column('deadline_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
        sa.Column('at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(['case_id'], ['work_order.id'], ),
        sa.ForeignKeyConstraint(['unit_id'], ['unit.id'], ),
        sa.PrimaryKeyConstraint('id'))
    op.create_index('ix_reminder_audience', 'reminder', ['audience', 'unit_id', 'at'],
                    unique=False)
    op.create_index(op.f('ix_reminder_case_id'), 'reminder', ['case_id'], unique=False)


def downgrade() -> None:
    op.drop_index(op.f('ix_reminder_case_id'), table_name='reminder')
    op.drop_index('ix_reminder_audience', table_name='reminder')
    op.drop_table('reminder')
    op.drop_column('user', 'head')
    op.drop_index('ix_work_order_next_warning', table_name='work_order')
    for column in ('next_warning_at', 'warning_stage', 'clock_started_at'):
        op.drop_column('work_order', column)
