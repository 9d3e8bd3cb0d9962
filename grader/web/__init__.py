"""The web app: ``create_app(config)`` builds an isolated Flask app around one database.

Pages are server-rendered and work without JavaScript; the JSON API lives under ``/api/v1``.
The web process stores submissions and reads grades. It never runs student code: only the
grading workers do, through the sandbox.
"""

from __future__ import annotations

import datetime as dt
import logging

from typing import TYPE_CHECKING

from flask import Flask

from grader.config import Config
from grader.store.db import Database

if TYPE_CHECKING:
    from grader.engine.bank import Bank


def create_app(config: Config, database: Database | None = None, bank: "Bank | None" = None) -> Flask:
    config = config.ensure_instance()
    app = Flask(__name__, instance_path=str(config.instance_path.resolve()), instance_relative_config=False)
    app.config.update(
        SECRET_KEY=config.secret_key,
        GRADER=config,
        # The whole request body: the file cap plus room for the multipart envelope. Werkzeug
        # answers 413 from Content-Length before the body is read.
        MAX_CONTENT_LENGTH=config.max_upload_bytes + 64 * 1024,
        MAX_FORM_MEMORY_SIZE=config.max_upload_bytes + 64 * 1024,
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=config.secure_cookies,
        REMEMBER_COOKIE_HTTPONLY=True,
        REMEMBER_COOKIE_SECURE=config.secure_cookies,
        PERMANENT_SESSION_LIFETIME=dt.timedelta(days=14),
        WTF_CSRF_TIME_LIMIT=None,  # tied to the session instead
        RATELIMIT_ENABLED=config.ratelimit_enabled,
        RATELIMIT_STORAGE_URI=config.ratelimit_storage_uri,
        RATELIMIT_HEADERS_ENABLED=True,
        BABEL_DEFAULT_LOCALE="en",
        TESTING=config.testing,
        **dict(config.extra),
    )
    app.extensions["grader.db"] = database or Database(config.sqlalchemy_url)
    app.extensions["grader.bank"] = bank or _bank(config)
    _init_extensions(app)
    _register_blueprints(app)
    if config.trust_proxy:
        # Only behind a proxy that sets X-Forwarded-*: otherwise anyone could pick the host
        # and scheme of the public URLs (the LTI launch and JWKS addresses among them).
        from werkzeug.middleware.proxy_fix import ProxyFix

        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=1, x_proto=1, x_host=1, x_port=1, x_prefix=1)
    if not app.testing:
        logging.getLogger("grader").setLevel(logging.INFO)
    return app


def _bank(config: Config):  # noqa: ANN202
    from grader.engine.bank import Bank

    return Bank.locate({"GRADER_BANK": str(config.bank)} if config.bank else None)


def _init_extensions(app: Flask) -> None:
    from flask_babel import lazy_gettext as _l

    from grader.web import context, errors, language, templating
    from grader.web.extensions import babel, csrf, limiter, login_manager
    from grader.web.language import select_locale

    csrf.init_app(app)
    limiter.init_app(app)
    babel.init_app(app, locale_selector=select_locale)
    login_manager.init_app(app)
    login_manager.login_view = "auth.login"
    login_manager.login_message = _l("Please sign in to see this page.")
    login_manager.login_message_category = "info"
    login_manager.session_protection = "strong"
    login_manager.user_loader(_load_user)
    app.teardown_appcontext(context.close_db)
    errors.init_app(app)
    templating.init_app(app)
    language.init_app(app)


def _load_user(user_id: str):  # noqa: ANN202
    from grader.store.models import User
    from grader.web.context import SignedIn, db

    if not user_id.isdigit():
        return None
    row = db().get(User, int(user_id))
    return SignedIn.of(row) if row is not None else None


def _register_blueprints(app: Flask) -> None:
    from grader.web import auth, deliveries, instructor, lti, ops, student
    from grader.web.api import api

    app.register_blueprint(auth.bp)
    app.register_blueprint(student.bp)
    app.register_blueprint(instructor.bp)
    app.register_blueprint(deliveries.bp)
    app.register_blueprint(lti.bp)
    app.register_blueprint(api)
    app.register_blueprint(ops.bp)  # /healthz, /readyz, /metrics
