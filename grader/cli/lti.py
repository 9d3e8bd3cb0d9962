"""``grader lti add-platform|list|rotate-key``: LTI 1.3 registrations and the tool's keys."""
