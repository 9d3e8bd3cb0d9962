"""How a worker learns that there may be work: the doorbell.

The embedded queue polls: an idle worker looks again after ``poll_seconds`` and a busy one
claims the next run straight away, so a burst is drained with no wait at all. A message
broker (the Celery back end) rings instead. Either way the claim itself is
``grader.queue.claims.claim_next``: a ring is only a hint, the database decides.
"""

from __future__ import annotations

import threading


class PollingDoorbell:
    def __init__(self, poll_seconds: float):
        self.poll_seconds = poll_seconds
        self._rung = threading.Event()

    def wait(self, stop: threading.Event) -> None:
        """Return after ``poll_seconds``, or sooner when rung or stopped."""
        if self._rung.wait(self.poll_seconds):
            self._rung.clear()
        if stop.is_set():
            return

    def ring(self) -> None:
        self._rung.set()
