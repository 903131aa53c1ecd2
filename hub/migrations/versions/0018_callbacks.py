"""回访 (call-back): a replied case's call-back state, due time and unanswered calls,
with a partial index for the operators' queue

Revision ID: 0018
Revises: 0017
"""
import sqlalchemy as sa
import sqlmodel
from alembic import op

revision = '0018'
down_revision = '0017'
branch_labels = None
depends_on = None

PENDING = "callback_state = 'pending'"


def upgrade() -> None:
    # plain ADD COLUMN (no batch copy of a table other rows point at)
    op.add_column('work_order', sa.Column('callback_state',
                                          sqlmodel.sql.sqltypes.AutoString(length=12),
                                          nullable=True))
    op.add_column('work_order', sa.Column('callback_due_at',
                                          sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True))
    op.add_column('work_order', sa.Column('callback_attempts', sa.Integer(), nullable=False,
                                          server_default="0"))
    op.create_index('ix_work_order_callback_due', 'work_order', ['callback_due_at'],
                    unique=False, sqlite_where=sa.text(PENDING),
                    postgresql_where=sa.text(PENDING))


def downgrade() -> None:
    op.drop_index('ix_work_order_callback_due', table_name='work_order')
    for column in ('callback_attempts', 'callback_due_at', 'callback_state'):
        op.drop_column('work_order', column)
