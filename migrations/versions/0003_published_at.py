"""celery: grading_runs.published_at

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-01 17:39:18.641155
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import grader.store.models


revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('grading_runs', schema=None) as batch_op:
        batch_op.add_column(sa.Column('published_at', grader.store.models.UTCDateTime(), nullable=True))



def downgrade() -> None:
    with op.batch_alter_table('grading_runs', schema=None) as batch_op:
        batch_op.drop_column('published_at')

