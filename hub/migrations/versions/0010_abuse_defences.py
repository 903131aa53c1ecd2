"""abuse defences: one atomic throttle counter per hashed key (replaces loginfailure);
QR evaluations keep a device hash and a vote-stuffing flag a supervisor may accept;
a misconduct report remembers the units it names

Revision ID: 0010
Revises: 0009
"""
import sqlalchemy as sa
import sqlmodel
from alembic import op

revision = '0010'
down_revision = '0009'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('throttle',
                    sa.Column('key', sa.String(length=64), nullable=False),
                    sa.Column('count', sa.Integer(), nullable=False),
                    sa.Column('window_start', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
                    sa.Column('expires_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
                    sa.PrimaryKeyConstraint('key'))
    op.create_index('ix_throttle_expires_at', 'throttle', ['expires_at'], unique=False)
    op.drop_index('ix_loginfailure_key_at', table_name='loginfailure')
    op.drop_table('loginfailure')
    # plain ADD COLUMN on both databases (no batch copy: foreign keys point at these)
    op.add_column('unitevaluation', sa.Column('device_hash', sa.String(length=64), nullable=True))
    op.add_column('unitevaluation', sa.Column('flag', sa.String(length=40), nullable=True))
    op.add_column('unitevaluation', sa.Column('accepted_by', sa.String(length=60), nullable=True))
    op.add_column('unitevaluation', sa.Column('accepted_at', sqlmodel.sql.sqltypes.UTCDateTime(),
                                              nullable=True))
    op.create_index('ix_unitevaluation_flag', 'unitevaluation', ['flag'], unique=False)
    op.add_column('work_order', sa.Column('accused_units', sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('work_order') as batch:
        batch.drop_column('accused_units')
    op.drop_index('ix_unitevaluation_flag', table_name='unitevaluation')
    with op.batch_alter_table('unitevaluation') as batch:
        batch.drop_column('accepted_at')
        batch.drop_column('accepted_by')
        batch.drop_column('flag')
        batch.drop_column('device_hash')
    op.create_table('loginfailure',
                    sa.Column('id', sa.Integer(), nullable=False),
                    sa.Column('key', sa.String(length=64), nullable=False),
                    sa.Column('at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
                    sa.PrimaryKeyConstraint('id'))
    op.create_index('ix_loginfailure_key_at', 'loginfailure', ['key', 'at'], unique=False)
    op.drop_index('ix_throttle_expires_at', table_name='throttle')
    op.drop_table('throttle')
