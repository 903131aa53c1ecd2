"""topics: which matter each appeal is about, assigned as appeals arrive (hub/topics.py)

Revision ID: 0015
Revises: 0014

The weekly hot-issue report aggregates ``appeal.topic_id`` instead of clustering a
week of appeals each time. Appeals whose cases were opened before this revision are
queued for the topic job, which assigns them in the background (oldest first).
"""
import sqlalchemy as sa
import sqlmodel
from alembic import op

revision = '0015'
down_revision = '0014'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'topic',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('original_appeal_id', sa.Integer(), nullable=False),
        sa.Column('county_code', sqlmodel.sql.sqltypes.AutoString(length=40), nullable=True),
        sa.Column('category', sqlmodel.sql.sqltypes.AutoString(length=40), nullable=True),
        sa.Column('size', sa.Integer(), nullable=False),
        sa.Column('first_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.Column('last_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.Column('reps', sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(['original_appeal_id'], ['appeal.id']),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('original_appeal_id'))
    op.create_index('ix_topic_last_at', 'topic', ['last_at'], unique=False)
    op.create_table(
        'topicband',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('key', sa.BigInteger(), nullable=False),
        sa.Column('topic_id', sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(['topic_id'], ['topic.id']),
        sa.PrimaryKeyConstraint('id'))
    op.create_index('ix_topicband_key', 'topicband', ['key'], unique=False)
    op.create_index('ix_topicband_topic_id', 'topicband', ['topic_id'], unique=False)
    op.create_table(
        'topicbacklog',
        sa.Column('appeal_id', sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(['appeal_id'], ['appeal.id']),
        sa.PrimaryKeyConstraint('appeal_id'))
    # plain ADD COLUMN on both databases (SQLite's batch mode would copy the table)
    op.add_column('appeal', sa.Column('topic_id', sa.Integer(), nullable=True))
    op.create_index('ix_appeal_received_topic', 'appeal', ['received_at', 'topic_id'],
                    unique=False, sqlite_where=sa.text('topic_id IS NOT NULL'),
                    postgresql_where=sa.text('topic_id IS NOT NULL'))
    op.execute("INSERT INTO topicbacklog (appeal_id) SELECT appeal_id FROM work_order")


def downgrade() -> None:
    op.drop_index('ix_appeal_received_topic', table_name='appeal')
    with op.batch_alter_table('appeal') as batch:
        batch.drop_column('topic_id')
    op.drop_table('topicbacklog')
    op.drop_index('ix_topicband_topic_id', table_name='topicband')
    op.drop_index('ix_topicband_key', table_name='topicband')
    op.drop_table('topicband')
    op.drop_index('ix_topic_last_at', table_name='topic')
    op.drop_table('topic')
