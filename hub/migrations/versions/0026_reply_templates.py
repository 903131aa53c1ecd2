"""reply templates (答复模板): a unit's templates per category and ending

Revision ID: 0026
Revises: 0025
"""
import sqlalchemy as sa
import sqlmodel
from alembic import op

revision = '0026'
down_revision = '0025'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'reply_template',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('unit_id', sa.Integer(), nullable=False),
        sa.Column('name', sqlmodel.sql.sqltypes.AutoString(length=60), nullable=False),
        sa.Column('category', sqlmodel.sql.sqltypes.AutoString(length=40), nullable=True),
        sa.Column('resolution', sqlmodel.sql.sqltypes.AutoString(length=12), nullable=True),
        sa.Column('body', sqlmodel.sql.sqltypes.AutoString(length=4000), nullable=False),
        sa.Column('updated_by', sqlmodel.sql.sqltypes.AutoString(length=80), nullable=False),
        sa.Column('updated_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(['unit_id'], ['unit.id'], ),
        sa.PrimaryKeyConstraint('id'))
    op.create_index(op.f('ix_reply_template_unit_id'), 'reply_template', ['unit_id'],
                    unique=False)


def downgrade() -> None:
    op.drop_index(op.f('ix_reply_template_unit_id'), table_name='reply_template')
    op.drop_table('reply_template')
