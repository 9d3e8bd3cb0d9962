"""Signing in and out. Login is rate-limited; the session is renewed on login (no fixation)."""

from __future__ import annotations

from urllib.parse import urlsplit

from flask import Blueprint, flash, redirect, render_template, request, session, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import login_required, login_user, logout_user
from flask_wtf import FlaskForm
from wtforms import EmailField, PasswordField
from wtforms.validators import DataRequired, Length

from grader.store import accounts
from grader.web import language
from grader.web.context import SignedIn, database
from grader.web.extensions import limiter, login_limit

bp = Blueprint("auth", __name__)


class LoginForm(FlaskForm):
    email = EmailField(_l("Email"), validators=[DataRequired(), Length(max=320)])
    password = PasswordField(_l("Password"), validators=[DataRequired(), Length(max=1000)])


@bp.route("/login", methods=["GET", "POST"])
@limiter.limit(login_limit, methods=["POST"], key_func=lambda: f"login:{request.remote_addr}")
def login():  # noqa: ANN201
    form = LoginForm()
    if form.validate_on_submit():
        with database().unit_of_work() as db_session:
            user = accounts.authenticate(db_session, form.email.data, form.password.data)
            signed_in = SignedIn.of(user) if user is not None else None
        if signed_in is None:
            flash(_("Wrong email or password."), "error")
            return render_template("login.html", form=form), 401
        next_url = request.args.get("next", "")
        chosen = language.keep_choice_across_sign_in()
        session.clear()  # a new session on login: an id planted before it is worthless
        language.restore_choice(chosen)
        login_user(signed_in)
        return redirect(next_url if _is_local(next_url) else url_for("student.index"))
    return render_template("login.html", form=form), (400 if form.errors else 200)


@bp.route("/logout", methods=["POST"])
@login_required
def logout():  # noqa: ANN201
    logout_user()
    session.clear()
    flash(_("You are signed out."), "info")
    return redirect(url_for("auth.login"))


def _is_local(url: str) -> bool:
    parts = urlsplit(url)
    # Browsers read /\host as //host (another site), and drop tabs and newlines from addresses.
    return (bool(url) and not parts.scheme and not parts.netloc and url.startswith("/") and not url.startswith("//")
            and "\\" not in url and url.isprintable())
