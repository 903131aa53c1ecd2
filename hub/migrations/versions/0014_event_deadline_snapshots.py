"""case events keep the deadlines as they stood: reply deadline and signing deadline;
cases indexed by when they last changed; a period's events counted from an index

Revision ID: 0014
Revises: 0013

Events written before this revision carry no deadline. The case's current deadline
is copied onto the events of its latest handling (those after its last deadline-
setting event): the best the stored rows allow, and fixed from now on. Earlier
rounds of reopened, extended or reassigned cases keep none and are left out of
应办结 for the periods they fell in.
"""
import sqlalchemy as sa
import sqlmodel
from alembic import op

revision = '0014'
down_revision = '0013'
branch_labels = None
depends_on = None

SETTING = "action IN ('assign', 'reassign', 'reopen', 'grant_extension')"
CHANGING = "('assign', 'reassign', 'reopen', 'grant_extension', 'return', 'merge')"


def upgrade() -> None:
    # plain ADD COLUMN (no batch copy of a table other rows point at)
    op.add_column('caseevent', sa.Column('deadline_at', sqlmodel.sql.sqltypes.UTCDateTime(),
                                         nullable=True))
    op.add_column('caseevent', sa.Column('sign_deadline_at',
                                         sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True))
    op.execute(
        "UPDATE caseevent SET deadline_at = (SELECT w.deadline_at FROM work_order w "
        "WHERE w.id = caseevent.case_id) "
        "WHERE NOT EXISTS (SELECT 1 FROM caseevent later "
        "WHERE later.case_id = caseevent.case_id AND later.id > caseevent.id "
        f"AND later.action IN {CHANGING})")
    op.create_index('ix_caseevent_deadline_set', 'caseevent', ['deadline_at'], unique=False,
                    sqlite_where=sa.text(SETTING), postgresql_where=sa.text(SETTING))
    op.create_index('ix_caseevent_sign_deadline', 'caseevent', ['sign_deadline_at'],
                    unique=False, sqlite_where=sa.text("sign_deadline_at IS NOT NULL"),
                    postgresql_where=sa.text("sign_deadline_at IS NOT NULL"))
    op.create_index('ix_work_order_updated_created', 'work_order',
                    ['updated_at', 'created_at'], unique=False)
    # a period's events counted per unit from the index alone
    op.drop_index('ix_caseevent_at_action', table_name='caseevent')
    op.create_index('ix_caseevent_at_action', 'caseevent', ['at', 'action', 'unit_id', 'case_id'],
                    unique=False)


def downgrade() -> None:
    op.drop_index('ix_caseevent_at_action', table_name='caseevent')
    op.create_index('ix_caseevent_at_action', 'caseevent', ['at', 'action'], unique=False)
    op.drop_index('ix_work_order_updated_created', table_name='work_order')
    op.drop_index('ix_caseevent_sign_deadline', table_name='caseevent')
    op.drop_index('ix_caseevent_deadline_set', table_name='caseevent')
    with op.batch_alter_table('caseevent') as batch:
        batch.drop_column('sign_deadline_at')
        batch.drop_column('deadline_at')
