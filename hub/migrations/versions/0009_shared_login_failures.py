"""failed logins in the database, so every process counts the same failures

Revision ID: 0009
Revises: 0008
"""
import sqlalchemy as sa
import sqlmodel
from alembic import op

revision = '0009'
down_revision = '0008'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('loginfailure',
                    sa.Column('id', sa.Integer(), nullable=False),
                    sa.Column('key', sa.String(length=64), nullable=False),
                    sa.Column('at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
                    sa.PrimaryKeyConstraint('id'))
    op.create_index('ix_loginfailure_key_at', 'loginfailure', ['key', 'at'], unique=False)


def downgrade() -> None:
    op.drop_index('ix_loginfailure_key_at', table_name='loginfailure')
    op.drop_table('loginfailure')
