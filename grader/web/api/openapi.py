"""``/api/v1/openapi.json``: generated from the routes' docstrings and the pydantic schemas."""

from __future__ import annotations

from apispec import APISpec
from apispec_webframeworks.flask import FlaskPlugin
from flask import current_app, request

from grader.web.api import api
from grader.web.api.schemas import component_schemas

API_VERSION = "1.0.0"


def build_spec(app) -> dict:  # noqa: ANN001
    spec = APISpec(title="torch-grader API", version=API_VERSION, openapi_version="3.1.0",
                   plugins=[FlaskPlugin()],
                   info={"description": "Submit PyTorch autograd exercises for grading and read the "
                                        "per-check feedback. Errors are {\"error\": {\"code\", \"message\", \"field\"}}."})
    spec.components.security_scheme("bearer", {"type": "http", "scheme": "bearer",
                                               "description": "A token from `grader tokens create EMAIL`."})
    for name, schema in component_schemas().items():
        spec.components.schema(name, schema)
    spec.components.response("Error", {"description": "An error",
                                        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}})
    with app.test_request_context():
        for rule in app.url_map.iter_rules():
            if rule.endpoint.startswith("api.") and rule.endpoint != "api.openapi_document":
                spec.path(view=app.view_functions[rule.endpoint], app=app)
    document = spec.to_dict()
    _resolve_schema_names(document)
    return document


def _resolve_schema_names(node) -> None:  # noqa: ANN001
    """Docstrings name schemas bare (``schema: Accepted``); turn those into references."""
    if isinstance(node, dict):
        for key, value in list(node.items()):
            if key == "schema" and isinstance(value, str):
                node[key] = {"$ref": f"#/components/schemas/{value}"}
            else:
                _resolve_schema_names(value)
    elif isinstance(node, list):
        for item in node:
            _resolve_schema_names(item)


@api.route("/openapi.json")
def openapi_document():  # noqa: ANN201
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    if "grader.openapi" not in app.extensions:
        app.extensions["grader.openapi"] = build_spec(app)
    document = dict(app.extensions["grader.openapi"])
    document["servers"] = [{"url": request.host_url.rstrip("/")}]
    return document
