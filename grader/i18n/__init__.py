"""Languages: every word a student reads exists in English, Simplified Chinese and Russian.

- ``text``: :class:`Text`, a message id (the English source with ``{named}`` placeholders)
  plus its parameters. The engine stores these beside the English rendering, so a stored
  result can be shown in any language later without regrading.
- ``catalogs``: the gettext catalogues under ``grader/translations``, compiled from the
  ``.po`` files when first used (no compiled ``.mo`` files are kept in git).
- ``locales``: the supported languages and how a request, a launch or ``LANG`` picks one.
- ``localize``: renders a :class:`Text`, a plain English string or a whole stored result in
  one language, at the edge (CLI, web, API).
"""
