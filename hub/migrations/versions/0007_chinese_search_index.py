"""the full-text search index of appeals (character bigrams; see hub/search.py)

SQLite: a contentless FTS5 table. PostgreSQL: tsvectors with a GIN index. Plus the
backlog of appeals waiting to be indexed. Appeals stored before this revision are
queued for indexing at the next start (search.backfill_if_empty) or indexed at once
by ``hub reindex``.

Revision ID: 0007
Revises: 0006
"""
import sqlalchemy as sa
from alembic import op

revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('searchbacklog',
                    sa.Column('appeal_id', sa.Integer(), nullable=False),
                    sa.ForeignKeyConstraint(['appeal_id'], ['appeal.id']),
                    sa.PrimaryKeyConstraint('appeal_id'))
    if op.get_bind().dialect.name == "postgresql":
        op.execute("CREATE TABLE appeal_search (appeal_id INTEGER PRIMARY KEY "
                   "REFERENCES appeal (id), grams TSVECTOR NOT NULL)")
        op.execute("CREATE INDEX ix_appeal_search_grams ON appeal_search USING gin (grams)")
    else:
        op.execute("CREATE VIRTUAL TABLE appeal_search USING fts5(grams, content='', "
                   "tokenize='unicode61')")


def downgrade() -> None:
    op.execute("DROP TABLE appeal_search")
    op.drop_table('searchbacklog')
