"""disputed returns (退单仲裁): a return's reason code and the unit the returning
unit believes responsible, kept on the case until a dispatcher rules

Revision ID: 0019
Revises: 0018
"""
import sqlalchemy as sa
import sqlmodel
from alembic import op

revision = '0019'
down_revision = '0018'
branch_labels = None
depends_on = None


def upgrade() -> None:
    # plain ADD COLUMN (no batch copy of a table other rows point at)
    op.add_column('work_order', sa.Column('return_code',
                                          sqlmodel.sql.sqltypes.AutoString(length=20),
                                          nullable=True))
    op.add_column('work_order', sa.Column('return_unit',
                                          sqlmodel.sql.sqltypes.AutoString(length=40),
                                          nullable=True))


def downgrade() -> None:
    op.drop_column('work_order', 'return_unit')
    op.drop_column('work_order', 'return_code')
