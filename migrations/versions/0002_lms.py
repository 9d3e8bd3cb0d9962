"""lms: webhook sources, LTI platforms, reply targets, outbox

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-01 17:27:05.729933
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import grader.store.models


revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('disabled_destinations',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('url', sa.String(length=2000), nullable=False),
    sa.Column('disabled_at', grader.store.models.UTCDateTime(), nullable=False),
    sa.Column('reason', sa.Text(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_disabled_destinations')),
    sa.UniqueConstraint('kind', 'url', name=op.f('uq_disabled_destinations_kind_url'))
    )
    op.create_table('lti_nonces',
    sa.Column('nonce', sa.String(length=255), nullable=False),
    sa.Column('expires_at', grader.store.models.UTCDateTime(), nullable=False),
    sa.PrimaryKeyConstraint('nonce', name=op.f('pk_lti_nonces'))
    )
    with op.batch_alter_table('lti_nonces', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_lti_nonces_expires_at'), ['expires_at'], unique=False)

    op.create_table('webhook_sources',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=64), nullable=False),
    sa.Column('callback_allow', sa.JSON(), nullable=False),
    sa.Column('created_at', grader.store.models.UTCDateTime(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_webhook_sources')),
    sa.UniqueConstraint('name', name=op.f('uq_webhook_sources_name'))
    )
    op.create_table('external_identities',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('issuer', sa.String(length=255), nullable=False),
    sa.Column('subject', sa.String(length=255), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('created_at', grader.store.models.UTCDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_external_identities_user_id_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_external_identities')),
    sa.UniqueConstraint('issuer', 'subject', name=op.f('uq_external_identities_issuer_subject'))
    )
    with op.batch_alter_table('external_identities', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_external_identities_user_id'), ['user_id'], unique=False)

    op.create_table('lti_platforms',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('issuer', sa.String(length=255), nullable=False),
    sa.Column('client_id', sa.String(length=255), nullable=False),
    sa.Column('deployment_ids', sa.JSON(), nullable=False),
    sa.Column('auth_url', sa.String(length=2000), nullable=False),
    sa.Column('token_url', sa.String(length=2000), nullable=False),
    sa.Column('jwks_url', sa.String(length=2000), nullable=False),
    sa.Column('course_id', sa.String(length=64), nullable=True),
    sa.Column('jwks', sa.JSON(), nullable=True),
    sa.Column('jwks_fetched_at', grader.store.models.UTCDateTime(), nullable=True),
    sa.Column('created_at', grader.store.models.UTCDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['course_id'], ['courses.id'], name=op.f('fk_lti_platforms_course_id_courses')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_lti_platforms')),
    sa.UniqueConstraint('issuer', 'client_id', name=op.f('uq_lti_platforms_issuer_client_id'))
    )
    op.create_table('webhook_secrets',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('source_id', sa.Integer(), nullable=False),
    sa.Column('secret', sa.String(length=100), nullable=False),
    sa.Column('created_at', grader.store.models.UTCDateTime(), nullable=False),
    sa.Column('expires_at', grader.store.models.UTCDateTime(), nullable=True),
    sa.ForeignKeyConstraint(['source_id'], ['webhook_sources.id'], name=op.f('fk_webhook_secrets_source_id_webhook_sources')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_webhook_secrets'))
    )
    with op.batch_alter_table('webhook_secrets', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_webhook_secrets_source_id'), ['source_id'], unique=False)

    op.create_table('inbound_messages',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('source_id', sa.Integer(), nullable=False),
    sa.Column('message_id', sa.String(length=255), nullable=False),
    sa.Column('submission_id', sa.Integer(), nullable=False),
    sa.Column('received_at', grader.store.models.UTCDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['source_id'], ['webhook_sources.id'], name=op.f('fk_inbound_messages_source_id_webhook_sources')),
    sa.ForeignKeyConstraint(['submission_id'], ['submissions.id'], name=op.f('fk_inbound_messages_submission_id_submissions')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_inbound_messages')),
    sa.UniqueConstraint('source_id', 'message_id', name=op.f('uq_inbound_messages_source_id_message_id'))
    )
    with op.batch_alter_table('inbound_messages', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_inbound_messages_submission_id'), ['submission_id'], unique=False)

    op.create_table('lti_contexts',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('platform_id', sa.Integer(), nullable=False),
    sa.Column('context_id', sa.String(length=255), nullable=False),
    sa.Column('course_id', sa.String(length=64), nullable=False),
    sa.ForeignKeyConstraint(['course_id'], ['courses.id'], name=op.f('fk_lti_contexts_course_id_courses')),
    sa.ForeignKeyConstraint(['platform_id'], ['lti_platforms.id'], name=op.f('fk_lti_contexts_platform_id_lti_platforms')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_lti_contexts')),
    sa.UniqueConstraint('platform_id', 'context_id', name=op.f('uq_lti_contexts_platform_id_context_id'))
    )
    op.create_table('lti_resource_links',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('platform_id', sa.Integer(), nullable=False),
    sa.Column('resource_link_id', sa.String(length=255), nullable=False),
    sa.Column('exercise_id', sa.Integer(), nullable=False),
    sa.Column('lineitem_url', sa.String(length=2000), nullable=True),
    sa.ForeignKeyConstraint(['exercise_id'], ['exercises.id'], name=op.f('fk_lti_resource_links_exercise_id_exercises')),
    sa.ForeignKeyConstraint(['platform_id'], ['lti_platforms.id'], name=op.f('fk_lti_resource_links_platform_id_lti_platforms')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_lti_resource_links')),
    sa.UniqueConstraint('platform_id', 'resource_link_id', name=op.f('uq_lti_resource_links_platform_id_resource_link_id'))
    )
    op.create_table('reply_targets',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('submission_id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('url', sa.String(length=2000), nullable=False),
    sa.Column('source_id', sa.Integer(), nullable=True),
    sa.Column('platform_id', sa.Integer(), nullable=True),
    sa.Column('subject', sa.String(length=255), nullable=False),
    sa.Column('created_at', grader.store.models.UTCDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['platform_id'], ['lti_platforms.id'], name=op.f('fk_reply_targets_platform_id_lti_platforms')),
    sa.ForeignKeyConstraint(['source_id'], ['webhook_sources.id'], name=op.f('fk_reply_targets_source_id_webhook_sources')),
    sa.ForeignKeyConstraint(['submission_id'], ['submissions.id'], name=op.f('fk_reply_targets_submission_id_submissions')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_reply_targets')),
    sa.UniqueConstraint('submission_id', 'kind', 'url', name=op.f('uq_reply_targets_submission_id_kind_url'))
    )
    with op.batch_alter_table('reply_targets', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_reply_targets_submission_id'), ['submission_id'], unique=False)

    op.create_table('deliveries',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('run_id', sa.Integer(), nullable=False),
    sa.Column('target_id', sa.Integer(), nullable=False),
    sa.Column('message_id', sa.String(length=64), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('next_attempt_at', grader.store.models.UTCDateTime(), nullable=False),
    sa.Column('lease_owner', sa.String(length=200), nullable=True),
    sa.Column('lease_expires_at', grader.store.models.UTCDateTime(), nullable=True),
    sa.Column('last_status', sa.Integer(), nullable=True),
    sa.Column('last_error', sa.Text(), nullable=True),
    sa.Column('sent_timestamp', sa.String(length=40), nullable=True),
    sa.Column('created_at', grader.store.models.UTCDateTime(), nullable=False),
    sa.Column('delivered_at', grader.store.models.UTCDateTime(), nullable=True),
    sa.Column('replayed_at', grader.store.models.UTCDateTime(), nullable=True),
    sa.ForeignKeyConstraint(['run_id'], ['grading_runs.id'], name=op.f('fk_deliveries_run_id_grading_runs')),
    sa.ForeignKeyConstraint(['target_id'], ['reply_targets.id'], name=op.f('fk_deliveries_target_id_reply_targets')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_deliveries')),
    sa.UniqueConstraint('message_id', name=op.f('uq_deliveries_message_id')),
    sa.UniqueConstraint('run_id', 'target_id', name=op.f('uq_deliveries_run_id_target_id'))
    )
    with op.batch_alter_table('deliveries', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_deliveries_run_id'), ['run_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_deliveries_status_next_attempt_at'), ['status', 'next_attempt_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_deliveries_target_id'), ['target_id'], unique=False)

    op.create_table('lti_grade_links',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('exercise_id', sa.Integer(), nullable=False),
    sa.Column('platform_id', sa.Integer(), nullable=False),
    sa.Column('context_id', sa.Integer(), nullable=True),
    sa.Column('lineitem_url', sa.String(length=2000), nullable=False),
    sa.Column('subject', sa.String(length=255), nullable=False),
    sa.Column('updated_at', grader.store.models.UTCDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['context_id'], ['lti_contexts.id'], name=op.f('fk_lti_grade_links_context_id_lti_contexts')),
    sa.ForeignKeyConstraint(['exercise_id'], ['exercises.id'], name=op.f('fk_lti_grade_links_exercise_id_exercises')),
    sa.ForeignKeyConstraint(['platform_id'], ['lti_platforms.id'], name=op.f('fk_lti_grade_links_platform_id_lti_platforms')),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_lti_grade_links_user_id_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_lti_grade_links')),
    sa.UniqueConstraint('user_id', 'exercise_id', name=op.f('uq_lti_grade_links_user_id_exercise_id'))
    )
    with op.batch_alter_table('courses', schema=None) as batch_op:
        batch_op.add_column(sa.Column('score_policy', sa.String(length=10), server_default='best', nullable=False))



def downgrade() -> None:
    with op.batch_alter_table('courses', schema=None) as batch_op:
        batch_op.drop_column('score_policy')

    op.drop_table('lti_grade_links')
    with op.batch_alter_table('deliveries', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_deliveries_target_id'))
        batch_op.drop_index(batch_op.f('ix_deliveries_status_next_attempt_at'))
        batch_op.drop_index(batch_op.f('ix_deliveries_run_id'))

    op.drop_table('deliveries')
    with op.batch_alter_table('reply_targets', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_reply_targets_submission_id'))

    op.drop_table('reply_targets')
    op.drop_table('lti_resource_links')
    op.drop_table('lti_contexts')
    with op.batch_alter_table('inbound_messages', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_inbound_messages_submission_id'))

    op.drop_table('inbound_messages')
    with op.batch_alter_table('webhook_secrets', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_webhook_secrets_source_id'))

    op.drop_table('webhook_secrets')
    op.drop_table('lti_platforms')
    with op.batch_alter_table('external_identities', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_external_identities_user_id'))

    op.drop_table('external_identities')
    op.drop_table('webhook_sources')
    with op.batch_alter_table('lti_nonces', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_lti_nonces_expires_at'))

    op.drop_table('lti_nonces')
    op.drop_table('disabled_destinations')
