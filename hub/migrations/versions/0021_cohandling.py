"""joint handling (主办/协办): co-handling sub-tasks with their own deadlines

Revision ID: 0021
Revises: 0020
"""
import sqlalchemy as sa
import sqlmodel
from alembic import op

revision = '0021'
down_revision = '0020'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'cohandling',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('case_id', sa.Integer(), nullable=False),
        sa.Column('unit_id', sa.Integer(), nullable=False),
        sa.Column('task', sqlmodel.sql.sqltypes.AutoString(length=500), nullable=False),
        sa.Column('deadline_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.Column('state', sqlmodel.sql.sqltypes.AutoString(length=12), nullable=False),
        sa.Column('answer', sa.Text(), nullable=True),
        sa.Column('answered_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
        sa.Column('answered_by', sqlmodel.sql.sqltypes.AutoString(length=80), nullable=True),
        sa.Column('created_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(['case_id'], ['work_order.id'], ),
        sa.ForeignKeyConstraint(['unit_id'], ['unit.id'], ),
        sa.PrimaryKeyConstraint('id'))
    op.create_index('ix_cohandling_unit_state', 'cohandling',
                    ['unit_id', 'state', 'deadline_at'], unique=False)
    op.create_index(op.f('ix_cohandling_case_id'), 'cohandling', ['case_id'], unique=False)


def downgrade() -> None:
    op.drop_index(op.f('ix_cohandling_case_id'), table_name='cohandling')
    op.drop_index('ix_cohandling_unit_state', table_name='cohandling')
    op.drop_table('cohandling')
