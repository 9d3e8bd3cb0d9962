"""The LMS stage: submissions in from course platforms, grades back out to them.

In (the web process):
- ``sources``: webhook sources and their ``whsec_`` secrets (``grader sources``), the
  callback allow-list (no requests to hosts a source did not name).
- ``inbound``: the webhook payload, validated, stored as a submission with its reply
  targets and its UNIQUE ``webhook-id`` in one transaction (``/api/v1/webhooks/<source>``).
- ``lti/``: LTI 1.3 (pylti1p3next): tool keys and JWKS, platform registrations, OIDC login,
  launches, Deep Linking; ``grader lti``.

Out (the worker side; never in the request path):
- ``outbox``: a :class:`~grader.store.models_lms.Delivery` per (graded run, reply target),
  written with the grade; claimed with a lease, sent, retried with backoff; ``grader
  deliveries``.
- ``callback``: the signed ``grade.completed`` event to a webhook source's callback URL.
- ``ags``: the LTI Assignment and Grade Services score POST (client-credentials token).
- ``outcome``: how an HTTP answer becomes delivered / retry later / permanent / disabled.
- ``http``: the one way out: timeouts always, redirects never.
"""
