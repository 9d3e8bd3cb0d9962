"""The instructor's delivery log: every grade on its way to a platform, and replaying one."""

from __future__ import annotations

from flask import Blueprint

bp = Blueprint("deliveries", __name__, url_prefix="/instructor/deliveries")
