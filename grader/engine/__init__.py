"""The grading engine: read a submission, run every check through the sandbox, score it.

Trusted code only. ``grading.grade_submission`` is the one entry every caller (CLI, queue
worker) ends up in; ``results`` is the data it produces.
"""
