"""The Flask extensions, created unbound and bound to each app in ``create_app``."""

from __future__ import annotations

from flask import current_app
from flask_babel import Babel
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from flask_login import LoginManager, current_user
from flask_wtf import CSRFProtect


class CatalogueBabel(Babel):
    """Flask-Babel whose gettext reads the catalogues of :mod:`grader.i18n.catalogs`."""

    @property
    def domain_instance(self):  # noqa: ANN201
        from grader.web.language import CatalogueDomain

        return CatalogueDomain(domain=self.domain)


def rate_limit_key() -> str:
    """Signed-in users are limited per account, everyone else per address."""
    if current_user and current_user.is_authenticated:
        return f"user:{current_user.id}"
    return f"addr:{get_remote_address()}"


login_manager = LoginManager()
csrf = CSRFProtect()
limiter = Limiter(key_func=rate_limit_key, default_limits=[])
babel = CatalogueBabel()


def submit_limit() -> str:
    return current_app.config["GRADER"].submit_rate


def login_limit() -> str:
    return current_app.config["GRADER"].login_rate
