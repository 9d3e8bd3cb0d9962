"""The grading queue. The ``grading_runs`` table is the queue (``claims``); how a worker
learns that there is work (``doorbell``) is kept apart from how it claims and finishes a run,
so that a message broker can ring the bell without touching the claim logic."""
