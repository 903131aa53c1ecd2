"""an index on the caller's phone: the operator's assistant finds a caller's earlier
appeals while the call is typed

Revision ID: 0025
Revises: 0024
"""
from alembic import op

revision = '0025'
down_revision = '0024'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index('ix_appeal_contact_phone', 'appeal', ['contact_phone'], unique=False)


def downgrade() -> None:
    op.drop_index('ix_appeal_contact_phone', table_name='appeal')
