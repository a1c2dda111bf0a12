"""job runs: the record that lets N schedulers run each job once per period

Every scheduler records a job's run for its period under the job's lock (a PostgreSQL
advisory lock, a file lock on SQLite) before it runs it; the unique (job, period_start)
keeps two from recording the same period even if a lock were lost.

Revision ID: a7c3e91f2b60
Revises: a7b3c9d1e2f4
Create Date: 2026-12-08 03:50:00

"""
import sqlalchemy as sa
from alembic import op

from sync.sqltypes import UTCDateTime

# revision identifiers, used by Alembic.
revision = 'a7c3e91f2b60'
down_revision = 'a7b3c9d1e2f4'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('job_run',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('job', sa.String(length=64), nullable=False),
    sa.Column('period_start', UTCDateTime(), nullable=True),
    sa.Column('started_at', UTCDateTime(), nullable=False),
    sa.Column('finished_at', UTCDateTime(), nullable=True),
    sa.Column('outcome', sa.String(length=16), nullable=False),
    sa.Column('detail', sa.Text(), nullable=True),
    sa.Column('host', sa.String(length=255), nullable=False),
    sa.Column('pid', sa.Integer(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_job_run')),
    sa.UniqueConstraint('job', 'period_start', name=op.f('uq_job_run_job'))
    )


def downgrade():
    op.drop_table('job_run')
