"""gradebook: users, courses, exercises, submissions, grading runs, regrades

Revision ID: 0001
Revises:
Create Date: 2026-12-01 11:04:10.937993
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import grader.store.models


revision = '0001'
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('courses',
    sa.Column('id', sa.String(length=64), nullable=False),
    sa.Column('title', sa.String(length=200), nullable=False),
    sa.Column('created_at', grader.store.models.UTCDateTime(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_courses'))
    )
    op.create_table('exercises',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('slug', sa.String(length=100), nullable=False),
    sa.Column('title', sa.String(length=200), nullable=False),
    sa.Column('summary', sa.Text(), nullable=False),
    sa.Column('points', sa.Float(), nullable=False),
    sa.Column('content_hash', sa.String(length=64), nullable=False),
    sa.Column('synced_at', grader.store.models.UTCDateTime(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_exercises')),
    sa.UniqueConstraint('slug', name=op.f('uq_exercises_slug'))
    )
    op.create_table('users',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('email', sa.String(length=320), nullable=False),
    sa.Column('display_name', sa.String(length=200), nullable=False),
    sa.Column('role', sa.String(length=20), nullable=False),
    sa.Column('password_hash', sa.String(length=200), nullable=True),
    sa.Column('locale', sa.String(length=16), nullable=True),
    sa.Column('created_at', grader.store.models.UTCDateTime(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_users')),
    sa.UniqueConstraint('email', name=op.f('uq_users_email'))
    )
    op.create_table('api_tokens',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('token_hash', sa.String(length=64), nullable=False),
    sa.Column('prefix', sa.String(length=16), nullable=False),
    sa.Column('name', sa.String(length=100), nullable=False),
    sa.Column('created_at', grader.store.models.UTCDateTime(), nullable=False),
    sa.Column('last_used_at', grader.store.models.UTCDateTime(), nullable=True),
    sa.Column('revoked_at', grader.store.models.UTCDateTime(), nullable=True),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_api_tokens_user_id_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_api_tokens')),
    sa.UniqueConstraint('token_hash', name=op.f('uq_api_tokens_token_hash'))
    )
    with op.batch_alter_table('api_tokens', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_api_tokens_user_id'), ['user_id'], unique=False)

    op.create_table('course_exercises',
    sa.Column('course_id', sa.String(length=64), nullable=False),
    sa.Column('exercise_id', sa.Integer(), nullable=False),
    sa.Column('position', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['course_id'], ['courses.id'], name=op.f('fk_course_exercises_course_id_courses')),
    sa.ForeignKeyConstraint(['exercise_id'], ['exercises.id'], name=op.f('fk_course_exercises_exercise_id_exercises')),
    sa.PrimaryKeyConstraint('course_id', 'exercise_id', name=op.f('pk_course_exercises'))
    )
    op.create_table('enrolments',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('course_id', sa.String(length=64), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('role', sa.String(length=20), nullable=False),
    sa.Column('created_at', grader.store.models.UTCDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['course_id'], ['courses.id'], name=op.f('fk_enrolments_course_id_courses')),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_enrolments_user_id_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_enrolments')),
    sa.UniqueConstraint('course_id', 'user_id', name=op.f('uq_enrolments_course_id_user_id'))
    )
    with op.batch_alter_table('enrolments', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_enrolments_course_id'), ['course_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_enrolments_user_id'), ['user_id'], unique=False)

    op.create_table('submissions',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('course_id', sa.String(length=64), nullable=False),
    sa.Column('exercise_id', sa.Integer(), nullable=False),
    sa.Column('filename', sa.String(length=255), nullable=False),
    sa.Column('format', sa.String(length=10), nullable=False),
    sa.Column('content', sa.LargeBinary(), nullable=False),
    sa.Column('size', sa.Integer(), nullable=False),
    sa.Column('sha256', sa.String(length=64), nullable=False),
    sa.Column('origin', sa.String(length=20), nullable=False),
    sa.Column('created_at', grader.store.models.UTCDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['course_id'], ['courses.id'], name=op.f('fk_submissions_course_id_courses')),
    sa.ForeignKeyConstraint(['exercise_id'], ['exercises.id'], name=op.f('fk_submissions_exercise_id_exercises')),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_submissions_user_id_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_submissions'))
    )
    with op.batch_alter_table('submissions', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_submissions_course_id'), ['course_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_submissions_exercise_id'), ['exercise_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_submissions_user_id_exercise_id'), ['user_id', 'exercise_id'], unique=False)

    op.create_table('grading_runs',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('submission_id', sa.Integer(), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('priority', sa.Integer(), nullable=False),
    sa.Column('reason', sa.String(length=20), nullable=False),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('lease_owner', sa.String(length=200), nullable=True),
    sa.Column('lease_expires_at', grader.store.models.UTCDateTime(), nullable=True),
    sa.Column('queued_at', grader.store.models.UTCDateTime(), nullable=False),
    sa.Column('started_at', grader.store.models.UTCDateTime(), nullable=True),
    sa.Column('finished_at', grader.store.models.UTCDateTime(), nullable=True),
    sa.Column('grading_seconds', sa.Float(), nullable=True),
    sa.Column('score', sa.Float(), nullable=True),
    sa.Column('max_score', sa.Float(), nullable=True),
    sa.Column('result', sa.JSON(), nullable=True),
    sa.Column('error', sa.Text(), nullable=True),
    sa.Column('exercise_hash', sa.String(length=64), nullable=True),
    sa.Column('engine_version', sa.String(length=40), nullable=True),
    sa.ForeignKeyConstraint(['submission_id'], ['submissions.id'], name=op.f('fk_grading_runs_submission_id_submissions')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_grading_runs'))
    )
    with op.batch_alter_table('grading_runs', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_grading_runs_status_priority_id'), ['status', 'priority', 'id'], unique=False)
        batch_op.create_index(batch_op.f('ix_grading_runs_submission_id'), ['submission_id'], unique=False)

    op.create_table('check_results',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('run_id', sa.Integer(), nullable=False),
    sa.Column('position', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=100), nullable=False),
    sa.Column('verdict', sa.String(length=20), nullable=False),
    sa.Column('points', sa.Float(), nullable=False),
    sa.Column('max_points', sa.Float(), nullable=False),
    sa.Column('visible', sa.Boolean(), nullable=False),
    sa.Column('hint', sa.Text(), nullable=True),
    sa.ForeignKeyConstraint(['run_id'], ['grading_runs.id'], name=op.f('fk_check_results_run_id_grading_runs')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_check_results'))
    )
    with op.batch_alter_table('check_results', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_check_results_name_verdict'), ['name', 'verdict'], unique=False)
        batch_op.create_index(batch_op.f('ix_check_results_run_id'), ['run_id'], unique=False)

    op.create_table('regrades',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('submission_id', sa.Integer(), nullable=False),
    sa.Column('run_id', sa.Integer(), nullable=False),
    sa.Column('requested_by_id', sa.Integer(), nullable=True),
    sa.Column('requested_at', grader.store.models.UTCDateTime(), nullable=False),
    sa.Column('reason', sa.Text(), nullable=False),
    sa.Column('old_score', sa.Float(), nullable=True),
    sa.Column('new_score', sa.Float(), nullable=True),
    sa.ForeignKeyConstraint(['requested_by_id'], ['users.id'], name=op.f('fk_regrades_requested_by_id_users')),
    sa.ForeignKeyConstraint(['run_id'], ['grading_runs.id'], name=op.f('fk_regrades_run_id_grading_runs')),
    sa.ForeignKeyConstraint(['submission_id'], ['submissions.id'], name=op.f('fk_regrades_submission_id_submissions')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_regrades')),
    sa.UniqueConstraint('run_id', name=op.f('uq_regrades_run_id'))
    )
    with op.batch_alter_table('regrades', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_regrades_submission_id'), ['submission_id'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('regrades', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_regrades_submission_id'))

    op.drop_table('regrades')
    with op.batch_alter_table('check_results', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_check_results_run_id'))
        batch_op.drop_index(batch_op.f('ix_check_results_name_verdict'))

    op.drop_table('check_results')
    with op.batch_alter_table('grading_runs', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_grading_runs_submission_id'))
        batch_op.drop_index(batch_op.f('ix_grading_runs_status_priority_id'))

    op.drop_table('grading_runs')
    with op.batch_alter_table('submissions', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_submissions_user_id_exercise_id'))
        batch_op.drop_index(batch_op.f('ix_submissions_exercise_id'))
        batch_op.drop_index(batch_op.f('ix_submissions_course_id'))

    op.drop_table('submissions')
    with op.batch_alter_table('enrolments', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_enrolments_user_id'))
        batch_op.drop_index(batch_op.f('ix_enrolments_course_id'))

    op.drop_table('enrolments')
    op.drop_table('course_exercises')
    with op.batch_alter_table('api_tokens', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_api_tokens_user_id'))

    op.drop_table('api_tokens')
    op.drop_table('users')
    op.drop_table('exercises')
    op.drop_table('courses')
