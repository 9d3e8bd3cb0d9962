"""``grader lti add-platform|list|rotate-key|urls|score-policy``: LTI 1.3 registrations, the
tool's keys, and which score a course sends.

A registration is a database row read on every launch: one added while ``grader serve``
runs works at once, without a restart.
"""

from __future__ import annotations

import click

from grader.cli.base import main
from grader.cli.service import INSTANCE_OPTION, instance_database, load_config

PATHS = {"login": "/lti/login", "launch": "/lti/launch", "jwks": "/.well-known/jwks.json",
         "config": "/lti/config.json", "deep_link": "/lti/launch"}


@main.group()
def lti() -> None:
    """LTI 1.3: register platforms (Canvas, Moodle, ...), rotate the tool's key, print URLs,
    choose which score a course sends."""


@lti.command("add-platform")
@INSTANCE_OPTION
@click.option("--issuer", required=True, help="The platform's issuer (iss), e.g. https://canvas.instructure.com.")
@click.option("--client-id", required=True, help="The client id the platform gave this tool.")
@click.option("--deployment-id", "deployment_ids", multiple=True, required=True,
              help="A deployment id (repeat for several).")
@click.option("--auth-url", required=True, help="The platform's OIDC authorization endpoint.")
@click.option("--token-url", required=True, help="The platform's OAuth2 token endpoint (grade passback).")
@click.option("--jwks-url", required=True, help="The platform's public key set (JWKS) URL.")
@click.option("--course", "course_id", default=None, metavar="ID",
              help="Land every launch of this platform in this existing course (default: one course per "
                   "platform course, created on its first launch).")
def add_platform(instance_path: str | None, issuer: str, client_id: str, deployment_ids: tuple[str, ...],
                 auth_url: str, token_url: str, jwks_url: str, course_id: str | None) -> None:
    """Register a platform, or update its registration (same issuer and client id)."""
    from grader.lms.lti import registry

    with instance_database(instance_path) as (_config, database):
        try:
            with database.unit_of_work() as session:
                platform = registry.add_platform(session, issuer, client_id, deployment_ids, auth_url, token_url,
                                                 jwks_url, course_id)
                summary = (platform.id, platform.issuer, platform.client_id, ", ".join(platform.deployment_ids))
        except registry.RegistryError as exc:
            raise click.ClickException(str(exc)) from None
    click.echo("platform {}: {} client {} deployments {}".format(*summary))


@lti.command("list")
@INSTANCE_OPTION
def list_platforms(instance_path: str | None) -> None:
    """The registered platforms."""
    from grader.lms.lti import registry

    with instance_database(instance_path) as (_config, database):
        with database.reading() as session:
            rows = [(p.id, p.issuer, p.client_id, ",".join(p.deployment_ids or []), p.course_id or "-",
                     "cached" if p.jwks else "not fetched") for p in registry.list_platforms(session)]
    if not rows:
        click.echo("no platforms registered: add one with `grader lti add-platform`")
        return
    click.echo("id\tissuer\tclient_id\tdeployments\tcourse\tjwks")
    for row in rows:
        click.echo("\t".join(str(v) for v in row))


@lti.command("rotate-key")
@INSTANCE_OPTION
def rotate_key(instance_path: str | None) -> None:
    """Start signing with a new key; the old one stays in the JWKS for 7 days."""
    from grader.lms.lti.keys import GRACE, ToolKeys

    keys = ToolKeys(load_config(instance_path).instance_path)
    old = keys.current().kid
    new = keys.rotate().kid
    click.echo(f"new key {new} signs from now on")
    click.echo(f"the old key {old} stays published in the JWKS for {GRACE.days} days")


@lti.command("urls")
@INSTANCE_OPTION
@click.option("--base-url", default=None, help="The public https://host[/prefix] (default: the base_url setting).")
def urls(instance_path: str | None, base_url: str | None) -> None:
    """The URLs a platform asks for when you register this tool."""
    base = (base_url or load_config(instance_path).base_url or "").rstrip("/")
    if not base:
        raise click.ClickException("no base URL: pass --base-url https://grader.example.edu or set base_url "
                                   "(GRADER_BASE_URL)")
    click.echo(f"OIDC login initiation URL: {base}{PATHS['login']}")
    click.echo(f"Target link / redirect URI: {base}{PATHS['launch']}")
    click.echo(f"Deep linking URL:          {base}{PATHS['deep_link']}")
    click.echo(f"Public JWKS URL:           {base}{PATHS['jwks']}")
    click.echo(f"Tool configuration JSON:   {base}{PATHS['config']}")
    click.echo("Custom parameter:          exercise=<exercise slug> (or pick it with Deep Linking)")


@lti.command("score-policy")
@INSTANCE_OPTION
@click.option("--course", "course_id", required=True, metavar="ID", help="The course.")
@click.argument("policy", required=False, type=click.Choice(["best", "latest"]))
def score_policy(instance_path: str | None, course_id: str, policy: str | None) -> None:
    """Which score the platform's gradebook gets: the student's best (default) or latest.

    \b
    Examples:
      grader lti score-policy --course ml101           # print it
      grader lti score-policy --course ml101 latest    # the latest graded submission counts
    A change applies to the grades sent from then on.
    """
    from grader.cli.service import course_or_error

    with instance_database(instance_path) as (_config, database):
        with database.unit_of_work() as session:
            course = course_or_error(session, course_id)
            if policy is not None:
                course.score_policy = policy
            current = course.score_policy
    click.echo(f"course {course_id}: the platform gets the {current} score")
