"""which classifier version (and category) decided each case's first dispatch, for the router's
dispatch-quality figures per model and week

Revision ID: 0027
Revises: 0026
"""
import sqlalchemy as sa
import sqlmodel
from alembic import op

revision = '0027'
down_revision = '0026'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column('work_order', sa.Column('route_model',
                                          sqlmodel.sql.sqltypes.AutoString(length=40),
                                          nullable=True))
    op.add_column('work_order', sa.Column('route_category',
                                          sqlmodel.sql.sqltypes.AutoString(length=40),
                                          nullable=True))
    op.create_index('ix_work_order_routed_created', 'work_order', ['created_at'],
                    unique=False, sqlite_where=sa.text('route_model IS NOT NULL'),
                    postgresql_where=sa.text('route_model IS NOT NULL'))


def downgrade() -> None:
    op.drop_index('ix_work_order_routed_created', table_name='work_order')
    op.drop_column('work_order', 'route_category')
    op.drop_column('work_order', 'route_model')
