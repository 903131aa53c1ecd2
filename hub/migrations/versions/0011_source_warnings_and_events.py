"""source warnings (a pull that may have skipped items) and the source event trail

Revision ID: 0011
Revises: 0010
"""
import sqlalchemy as sa
import sqlmodel
from alembic import op

revision = '0011'
down_revision = '0010'
branch_labels = None
depends_on = None


def upgrade() -> None:
    # plain ADD COLUMN on both databases (SQLite's batch mode would copy the table,
    # which the appeals' foreign keys forbid once sources exist)
    op.add_column('source', sa.Column('last_warning', sa.Text(), nullable=True))
    op.add_column('source', sa.Column('last_warning_at', sqlmodel.sql.sqltypes.UTCDateTime(),
                                      nullable=True))
    op.create_table('sourceevent',
                    sa.Column('id', sa.Integer(), nullable=False),
                    sa.Column('source_id', sa.Integer(), nullable=False),
                    sa.Column('appeal_id', sa.Integer(), nullable=True),
                    sa.Column('item_id', sa.Integer(), nullable=True),
                    sa.Column('at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
                    sa.Column('actor', sa.String(length=60), nullable=False),
                    sa.Column('action', sa.String(length=30), nullable=False),
                    sa.Column('note', sa.Text(), nullable=True),
                    sa.Column('data', sa.JSON(), nullable=True),
                    sa.ForeignKeyConstraint(['appeal_id'], ['appeal.id']),
                    sa.ForeignKeyConstraint(['item_id'], ['quarantineditem.id']),
                    sa.ForeignKeyConstraint(['source_id'], ['source.id']),
                    sa.PrimaryKeyConstraint('id'))
    op.create_index('ix_sourceevent_source_at', 'sourceevent', ['source_id', 'at'],
                    unique=False)
    op.create_index(op.f('ix_sourceevent_appeal_id'), 'sourceevent', ['appeal_id'],
                    unique=False)


def downgrade() -> None:
    op.drop_index(op.f('ix_sourceevent_appeal_id'), table_name='sourceevent')
    op.drop_index('ix_sourceevent_source_at', table_name='sourceevent')
    op.drop_table('sourceevent')
    with op.batch_alter_table('source') as batch:
        batch.drop_column('last_warning_at')
        batch.drop_column('last_warning')
