"""The Celery application of ``GRADER_QUEUE=celery``, built from the instance's config.

Celery only carries run ids: the database stays the truth (a task claims its run there with
the same lease code as the embedded queue), so there is no result backend. Messages are
acknowledged after the task ran (``acks_late``) and given back when the pool process died
(``task_reject_on_worker_lost``); a worker holds one message at a time (prefetch 1), so a
backlog waits in the broker, where another worker can take it.

Priorities are separate queues: ``grading.interactive`` for students, ``grading.regrade``
for regrades, ``deliveries`` for grade passback. A worker consumes them in that order. On
Redis, kombu's ``queue_order_strategy="priority"`` polls the queues strictly in that order,
so a regrade is only taken when no student waits. RabbitMQ delivers from all consumed
queues in turn, so a student waits behind at most one regrade per worker process, however
long the regrade backlog is. Nothing is built at import time: ``make_celery(config)``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from celery import Celery

    from grader.config import Config

INTERACTIVE_QUEUE = "grading.interactive"
REGRADE_QUEUE = "grading.regrade"
DELIVERY_QUEUE = "deliveries"
ALL_QUEUES = (INTERACTIVE_QUEUE, REGRADE_QUEUE, DELIVERY_QUEUE)
GRADE_TASK = "grader.grade_run"
DELIVERY_TASK = "grader.send_delivery"


class CeleryNotConfigured(Exception):
    """GRADER_QUEUE is not "celery" or GRADER_BROKER_URL is empty; the message says which."""


def check_config(config: "Config") -> None:
    if config.queue != "celery":
        raise CeleryNotConfigured(f"the queue is {config.queue!r}: set GRADER_QUEUE=celery (and "
                                  "GRADER_BROKER_URL) to grade with Celery workers")
    if not config.broker_url:
        raise CeleryNotConfigured("GRADER_BROKER_URL is not set (e.g. redis://127.0.0.1:6379/0 or "
                                  "amqp://guest:guest@127.0.0.1:5672//)")


def make_celery(config: "Config") -> "Celery":
    """A Celery app for this instance's broker, with the grading tasks registered."""
    from celery import Celery
    from kombu import Queue

    check_config(config)
    app = Celery("grader", broker=config.broker_url, set_as_current=False)
    app.conf.update(
        task_serializer="json", accept_content=["json"], result_serializer="json",
        result_backend=None, task_ignore_result=True, task_store_errors_even_if_ignored=False,
        task_acks_late=True, task_reject_on_worker_lost=True, worker_prefetch_multiplier=1,
        task_acks_on_failure_or_timeout=True,
        task_queues=[Queue(name, routing_key=name) for name in ALL_QUEUES],
        task_default_queue=INTERACTIVE_QUEUE,
        task_routes={DELIVERY_TASK: {"queue": DELIVERY_QUEUE}},
        broker_transport_options={
            "queue_order_strategy": "priority",  # Redis: the interactive queue always first
            # Redis: a message not acked within this time is delivered again; longer than any
            # grading (the run's lease covers a worker that died; the sweeper a lost message)
            "visibility_timeout": 3600,
            "max_retries": 3, "interval_start": 0, "interval_step": 0.5, "interval_max": 2,
        },
        broker_connection_retry_on_startup=True,
        broker_connection_max_retries=None,  # a worker waits for a broker that restarts
        broker_connection_timeout=4,
        broker_heartbeat=30,
        worker_cancel_long_running_tasks_on_connection_loss=False,
        worker_hijack_root_logger=False,
        worker_send_task_events=False,
        task_send_sent_event=False,
        worker_enable_remote_control=True,  # for `grader worker --ping`
        worker_disable_rate_limits=True,
        worker_proc_alive_timeout=120,  # a pool process starts its fork server (import torch) first
    )
    from grader.queue import tasks

    tasks.register(app, config)
    return app
