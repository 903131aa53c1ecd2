"""reply quality (答复质检): the flags a reply was sent with, the unit's reason, and
the case's flag for the supervisors' view

Revision ID: 0023
Revises: 0022
"""
import sqlalchemy as sa
import sqlmodel
from alembic import op

revision = '0023'
down_revision = '0022'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column('reply', sa.Column('quality_flags', sa.JSON(), nullable=True))
    op.add_column('reply', sa.Column('quality_override',
                                     sqlmodel.sql.sqltypes.AutoString(length=300),
                                     nullable=True))
    op.add_column('work_order', sa.Column('reply_flagged', sa.Boolean(), nullable=False,
                                          server_default=sa.false()))


def downgrade() -> None:
    op.drop_column('work_order', 'reply_flagged')
    op.drop_column('reply', 'quality_override')
    op.drop_column('reply', 'quality_flags')
