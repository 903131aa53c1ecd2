"""clusters of near-duplicates (a matter per appeal) and surges (热点突发)

Revision ID: 0013
Revises: 0012

Besides the two tables and ``appeal.cluster_id``, the upgrade turns the duplicates
recorded so far (``appeal.duplicate_of_id`` chains) into clusters, and keeps band
keys only for each cluster's original: the others were what made a large cluster
cost more per new appeal.
"""
import sqlalchemy as sa
import sqlmodel
from alembic import op

revision = '0013'
down_revision = '0012'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'appeal_cluster',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('original_appeal_id', sa.Integer(), nullable=False),
        sa.Column('case_id', sa.Integer(), nullable=True),
        sa.Column('county_code', sqlmodel.sql.sqltypes.AutoString(length=40), nullable=True),
        sa.Column('category', sqlmodel.sql.sqltypes.AutoString(length=40), nullable=True),
        sa.Column('size', sa.Integer(), nullable=False),
        sa.Column('first_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.Column('last_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.Column('reps', sa.JSON(), nullable=False),
        sa.Column('created_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(['case_id'], ['work_order.id']),
        sa.ForeignKeyConstraint(['original_appeal_id'], ['appeal.id']),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('original_appeal_id'))
    op.create_table(
        'surge',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('cluster_id', sa.Integer(), nullable=False),
        sa.Column('case_id', sa.Integer(), nullable=False),
        sa.Column('county_code', sqlmodel.sql.sqltypes.AutoString(length=40), nullable=True),
        sa.Column('category', sqlmodel.sql.sqltypes.AutoString(length=40), nullable=True),
        sa.Column('label', sqlmodel.sql.sqltypes.AutoString(length=100), nullable=False),
        sa.Column('title', sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
        sa.Column('answer', sa.Text(), nullable=False),
        sa.Column('answer_by', sqlmodel.sql.sqltypes.AutoString(length=60), nullable=True),
        sa.Column('answer_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
        sa.Column('article_ref', sqlmodel.sql.sqltypes.AutoString(length=80), nullable=True),
        sa.Column('state', sqlmodel.sql.sqltypes.AutoString(length=10), nullable=False),
        sa.Column('raised_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.Column('callers_at_raise', sa.Integer(), nullable=False),
        sa.Column('ended_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
        sa.Column('ended_by', sqlmodel.sql.sqltypes.AutoString(length=60), nullable=True),
        sa.Column('version', sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(['case_id'], ['work_order.id']),
        sa.ForeignKeyConstraint(['cluster_id'], ['appeal_cluster.id']),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('cluster_id'))
    op.create_index('ix_surge_case_id', 'surge', ['case_id'], unique=False)
    op.create_index('ix_surge_state_raised', 'surge', ['state', 'raised_at'], unique=False)
    # plain ADD COLUMN on both databases (SQLite's batch mode would copy the table)
    op.add_column('appeal', sa.Column('cluster_id', sa.Integer(), nullable=True))
    op.create_index('ix_appeal_cluster_at', 'appeal', ['cluster_id', 'received_at'],
                    unique=False, sqlite_where=sa.text('cluster_id IS NOT NULL'),
                    postgresql_where=sa.text('cluster_id IS NOT NULL'))
    _clusters_from_duplicates()


def _clusters_from_duplicates() -> None:
    """Each chain of recorded duplicates becomes one cluster, led by its first appeal."""
    bind = op.get_bind()
    parent = dict(bind.execute(sa.text(
        "SELECT id, duplicate_of_id FROM appeal WHERE duplicate_of_id IS NOT NULL")).all())
    if not parent:
        return
    root: dict[int, int] = {}
    for start in parent:
        node, seen = start, set()
        while node in parent and node not in seen and node not in root:
            seen.add(node)
            node = parent[node]
        top = root.get(node, node)
        for member in seen:
            root[member] = top
    members: dict[int, list[int]] = {}
    for member, top in root.items():
        members.setdefault(top, []).append(member)
    when = sqlmodel.sql.sqltypes.UTCDateTime()
    appeal = sa.table('appeal', sa.column('id'), sa.column('received_at', when),
                      sa.column('cluster_id'))
    cases = dict(bind.execute(sa.text(
        "SELECT appeal_id, id FROM work_order WHERE appeal_id IN (SELECT duplicate_of_id "
        "FROM appeal WHERE duplicate_of_id IS NOT NULL)")).all())
    cluster = sa.table('appeal_cluster', sa.column('id'), sa.column('original_appeal_id'),
                       sa.column('case_id'), sa.column('size'), sa.column('first_at', when),
                       sa.column('last_at', when), sa.column('reps', sa.JSON()),
                       sa.column('created_at', when))
    tops = sorted(members)
    for start in range(0, len(tops), 500):
        chunk = tops[start:start + 500]
        everyone = [a for t in chunk for a in (t, *members[t])]
        times = dict(bind.execute(sa.select(appeal.c.id, appeal.c.received_at)
                                  .where(appeal.c.id.in_(everyone))).all())
        for top in chunk:
            group = [top, *members[top]]
            stamps = [times[a] for a in group if a in times]
            made = bind.execute(sa.insert(cluster).values(
                original_appeal_id=top, case_id=cases.get(top), size=len(group),
                first_at=times.get(top, min(stamps)), last_at=max(stamps), reps=[],
                created_at=max(stamps)).returning(cluster.c.id)).scalar_one()
            bind.execute(sa.update(appeal).where(appeal.c.id.in_(group))
                         .values(cluster_id=made))
    bind.execute(sa.text(
        "DELETE FROM appealband WHERE appeal_id IN "
        "(SELECT id FROM appeal WHERE duplicate_of_id IS NOT NULL)"))


def downgrade() -> None:
    op.drop_index('ix_appeal_cluster_at', table_name='appeal')
    with op.batch_alter_table('appeal') as batch:
        batch.drop_column('cluster_id')
    op.drop_index('ix_surge_state_raised', table_name='surge')
    op.drop_index('ix_surge_case_id', table_name='surge')
    op.drop_table('surge')
    op.drop_table('appeal_cluster')
