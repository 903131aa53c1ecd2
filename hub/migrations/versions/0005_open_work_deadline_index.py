"""a partial index on open work by deadline (inbox views, deadline check)

Revision ID: 0005
Revises: 0004
"""
import sqlalchemy as sa
from alembic import op

revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None

OPEN = "state IN ('assigned', 'signed', 'reopened')"


def upgrade() -> None:
    op.create_index('ix_work_order_open_deadline', 'work_order', ['deadline_at'], unique=False,
                    sqlite_where=sa.text(OPEN), postgresql_where=sa.text(OPEN))


def downgrade() -> None:
    op.drop_index('ix_work_order_open_deadline', table_name='work_order')
