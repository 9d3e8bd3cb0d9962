"""The outbox's backoff: full jitter, doubling from 10 s, capped at an hour."""

from __future__ import annotations

import random

from grader.lms.outbox import full_jitter


def test_backoff_stays_under_a_doubling_ceiling_capped_at_an_hour() -> None:
    rng = random.Random(8)
    for attempts, ceiling in [(1, 10), (2, 20), (3, 40), (9, 2560), (10, 3600), (40, 3600)]:
        waits = [full_jitter(attempts, rng=rng) for _ in range(200)]
        assert all(0 <= w <= ceiling for w in waits)
        assert max(waits) > ceiling * 0.8, "full jitter should reach near the ceiling"


def test_backoff_is_deterministic_with_a_seeded_random() -> None:
    assert full_jitter(3, rng=random.Random(1)) == full_jitter(3, rng=random.Random(1))


def test_a_small_base_gives_small_waits() -> None:
    assert full_jitter(1, base=0.01, rng=random.Random(2)) <= 0.01
