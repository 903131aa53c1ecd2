"""the dispatch catalogue (派单目录): category x area -> unit, with effective dates

Revision ID: 0028
Revises: 0027
"""
import sqlalchemy as sa
import sqlmodel
from alembic import op

revision = '0028'
down_revision = '0027'
branch_labels = None
depends_on = None


def _text(length: int) -> sqlmodel.sql.sqltypes.AutoString:
    return sqlmodel.sql.sqltypes.AutoString(length=length)


def upgrade() -> None:
    op.create_table(
        'dispatchentry',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('category', _text(40), nullable=False),
        sa.Column('subcategory', _text(60), nullable=True),
        sa.Column('item', _text(60), nullable=True),
        sa.Column('county_code', _text(40), nullable=True),
        sa.Column('unit_code', _text(40), nullable=False),
        sa.Column('effective_from', sa.Date(), nullable=False),
        sa.Column('effective_to', sa.Date(), nullable=True),
        sa.Column('note', _text(200), nullable=True),
        sa.Column('created_by', _text(60), nullable=False),
        sa.Column('created_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.Column('ended_by', _text(60), nullable=True),
        sa.Column('ended_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
        sa.PrimaryKeyConstraint('id'),
    )
    op.create_index('ix_dispatch_entry_category', 'dispatchentry',
                    ['category', 'effective_from'], unique=False)


def downgrade() -> None:
    op.drop_index('ix_dispatch_entry_category', table_name='dispatchentry')
    op.drop_table('dispatchentry')
