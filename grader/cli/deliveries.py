"""``grader deliveries [--failed]`` and ``grader deliveries replay ID``: the grade outbox."""
