"""The page language: which one a request gets, the switch on every page, and rendering
stored texts (feedback, statements, titles) in it.

Order: ``?lang=`` on the request (the API's way), the signed-in user's profile setting,
else the language of the LTI launch that signed them in (``launch_presentation.locale``),
else the one chosen with the switch before signing in, else ``Accept-Language``, else
English. The switch stores the choice
in the profile (and the session, so it survives signing in).
"""

from __future__ import annotations

from urllib.parse import urlsplit

from flask import Blueprint, abort, current_app, redirect, request, session, url_for
from flask_babel import Domain, get_locale
from flask_login import current_user

from grader.i18n import catalogs, localize
from grader.i18n.locales import DEFAULT, LOCALES, NATIVE_NAMES, from_accept_language, normalize

bp = Blueprint("language", __name__)

CHOSEN_KEY = "locale"  # the switch's choice, for visitors not signed in
LAUNCH_KEY = "lti_locale"


class CatalogueDomain(Domain):
    """Flask-Babel's gettext, served from the catalogues compiled by :mod:`grader.i18n.catalogs`
    (the same ones the engine's feedback is rendered with)."""

    def get_translations(self):  # noqa: ANN201
        return catalogs.translations(current_locale())


def select_locale() -> str:
    asked = normalize(request.args.get("lang"))  # the API's ?lang=, also honoured by pages
    if asked:
        return asked
    if current_user and current_user.is_authenticated and current_user.locale in LOCALES:
        return current_user.locale
    for key in (LAUNCH_KEY, CHOSEN_KEY):
        if session.get(key) in LOCALES:
            return session[key]
    return from_accept_language(request.accept_languages) or DEFAULT


def current_locale() -> str:
    """The locale id of this request (``en``, ``zh_Hans``, ``ru``)."""
    locale = get_locale()
    return str(locale) if locale is not None and str(locale) in LOCALES else DEFAULT


def remember_launch_locale(tag: str | None) -> None:
    """Called after an LTI launch signed the user in (the session is new)."""
    locale = normalize(tag)
    if locale:
        session[LAUNCH_KEY] = locale


def keep_choice_across_sign_in() -> str | None:
    """The switch's choice before ``session.clear()``; give it to :func:`restore_choice`."""
    return session.get(CHOSEN_KEY)


def restore_choice(locale: str | None) -> None:
    if locale in LOCALES:
        session[CHOSEN_KEY] = locale


@bp.route("/language", methods=["POST"])
def switch():  # noqa: ANN201
    locale = request.form.get("locale", "")
    if locale not in LOCALES:
        abort(400)
    session[CHOSEN_KEY] = locale
    if current_user.is_authenticated:
        from grader.store import accounts
        from grader.web.context import database

        with database().unit_of_work() as db_session:
            accounts.set_locale(db_session, current_user.id, locale)
    return redirect(_same_page(), 303)


def _same_page() -> str:
    """Back to the page the switch was pressed on (the Referer, if it is one of ours): the
    form itself carries no address, so every page's HTML stays the same for every URL."""
    referrer = urlsplit(request.referrer or "")
    here = urlsplit(request.host_url)
    if referrer.netloc == here.netloc and referrer.path.startswith("/") and not referrer.path.startswith("//"):
        page = referrer.path + (f"?{referrer.query}" if referrer.query else "")
        if page.isprintable() and "\\" not in page:
            return page
    return url_for("student.index")


def html_lang() -> str:
    return {"zh_Hans": "zh-Hans"}.get(current_locale(), current_locale())


def localized(result: dict | None) -> dict:
    """A stored result in the page's language (filter: ``run.result|localized``)."""
    return localize.localize_result(result or {}, current_locale()) if result else {}


def text(value) -> str:  # noqa: ANN001
    """A stored text (an English constant, or a Text's JSON) in the page's language."""
    return localize.render(value, current_locale())


def exercise_title(row) -> str:  # noqa: ANN001 - an Exercise row (slug, title)
    """The exercise's title in the page's language (the stored English one as a fallback)."""
    return current_app.extensions["grader.bank"].title_in(row.slug, current_locale()) or row.title


def init_app(app) -> None:  # noqa: ANN001
    app.register_blueprint(bp)
    app.jinja_env.globals.update(html_lang=html_lang, languages=lambda: [(l, NATIVE_NAMES[l]) for l in LOCALES],
                                 current_language=current_locale, exercise_title=exercise_title,
                                 localized_text=text)
    app.jinja_env.filters["localized"] = localized
