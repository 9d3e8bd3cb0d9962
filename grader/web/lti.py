"""LTI 1.3 endpoints: OIDC login initiation, launch, the tool's JWKS, the tool configuration."""

from __future__ import annotations

from flask import Blueprint

bp = Blueprint("lti", __name__)
