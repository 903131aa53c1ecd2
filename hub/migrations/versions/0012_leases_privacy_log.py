"""renewed job leases with their last run; the contact-view log and privacy events

Job leases record when their job last started and finished and how often
(``every_seconds``), so an interval job runs once per interval across processes;
periodic job runs get a renewable ``until`` so a run whose process died is taken
over. Appeals get ``anonymised_at`` (erasure and retention); every view of a
citizen's unmasked contact details is logged in ``contactview``; erasures and
retention runs in ``privacyevent``.

Revision ID: 0012
Revises: 0011
"""
import sqlalchemy as sa
import sqlmodel
from alembic import op

revision = '0012'
down_revision = '0011'
branch_labels = None
depends_on = None

UTC_TIME = sqlmodel.sql.sqltypes.UTCDateTime


def upgrade() -> None:
    # plain ADD COLUMN on both databases (see 0008: batch mode would copy tables that
    # foreign keys point at)
    op.add_column('joblease', sa.Column('started_at', UTC_TIME(), nullable=True))
    op.add_column('joblease', sa.Column('finished_at', UTC_TIME(), nullable=True))
    op.add_column('joblease', sa.Column('every_seconds', sa.Integer(), nullable=True))
    op.add_column('joblease', sa.Column('last_error', sa.String(length=300), nullable=True))
    op.add_column('joblease', sa.Column('takeovers', sa.Integer(), nullable=False,
                                        server_default='0'))
    op.add_column('jobrun', sa.Column('until', UTC_TIME(), nullable=True))
    op.add_column('appeal', sa.Column('anonymised_at', UTC_TIME(), nullable=True))
    op.create_table('contactview',
                    sa.Column('id', sa.Integer(), nullable=False),
                    sa.Column('at', UTC_TIME(), nullable=False),
                    sa.Column('user_id', sa.Integer(), nullable=True),
                    sa.Column('username', sa.String(length=60), nullable=False),
                    sa.Column('role', sa.String(length=20), nullable=False),
                    sa.Column('case_id', sa.Integer(), nullable=False),
                    sa.Column('via', sa.String(length=10), nullable=False),
                    sa.ForeignKeyConstraint(['case_id'], ['work_order.id']),
                    sa.ForeignKeyConstraint(['user_id'], ['user.id']),
                    sa.PrimaryKeyConstraint('id'))
    op.create_index('ix_contactview_case_at', 'contactview', ['case_id', 'at'], unique=False)
    op.create_index('ix_contactview_at', 'contactview', ['at'], unique=False)
    op.create_table('privacyevent',
                    sa.Column('id', sa.Integer(), nullable=False),
                    sa.Column('at', UTC_TIME(), nullable=False),
                    sa.Column('actor', sa.String(length=120), nullable=False),
                    sa.Column('action', sa.String(length=20), nullable=False),
                    sa.Column('reason', sa.Text(), nullable=False),
                    sa.Column('appeals', sa.Integer(), nullable=False),
                    sa.Column('cases', sa.JSON(), nullable=True),
                    sa.PrimaryKeyConstraint('id'))


def downgrade() -> None:
    op.drop_table('privacyevent')
    op.drop_index('ix_contactview_at', table_name='contactview')
    op.drop_index('ix_contactview_case_at', table_name='contactview')
    op.drop_table('contactview')
    for table, columns in (('appeal', ('anonymised_at',)), ('jobrun', ('until',)),
                           ('joblease', ('takeovers', 'last_error', 'every_seconds',
                                         'finished_at', 'started_at'))):
        with op.batch_alter_table(table) as batch:
            for column in columns:
                batch.drop_column(column)
