"""Operations: readiness checks, Prometheus metrics read from the database, structured logs.

Nothing here runs at import: the web blueprint (``grader.web.ops``) and the service
processes (``grader serve`` and its children) call into these modules when they start.
"""
