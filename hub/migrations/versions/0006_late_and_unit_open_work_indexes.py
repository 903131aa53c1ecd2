"""partial indexes for the 临期/超期 view and a unit's open work by deadline

Revision ID: 0006
Revises: 0005
"""
import sqlalchemy as sa
from alembic import op

revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None

OPEN = "state IN ('assigned', 'signed', 'reopened')"
LATE = f"{OPEN} AND due_state IN ('due_soon', 'overdue')"


def upgrade() -> None:
    op.create_index('ix_work_order_late_deadline', 'work_order', ['deadline_at', 'id'],
                    unique=False, sqlite_where=sa.text(LATE), postgresql_where=sa.text(LATE))
    op.create_index('ix_work_order_unit_open_deadline', 'work_order', ['unit_id', 'deadline_at'],
                    unique=False, sqlite_where=sa.text(OPEN), postgresql_where=sa.text(OPEN))


def downgrade() -> None:
    op.drop_index('ix_work_order_unit_open_deadline', table_name='work_order')
    op.drop_index('ix_work_order_late_deadline', table_name='work_order')
