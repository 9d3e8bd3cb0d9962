"""The ``grader`` command group and what every command shares: the bank, the sandbox settings.

Heavy modules (torch, hypothesis) are imported inside the commands, after the commands that
grade have launched the fork server: its ``import torch`` then overlaps with ours.
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING

import click

from grader.sandbox import launcher

if TYPE_CHECKING:
    import threading

    from grader.engine.bank import Bank
    from grader.sandbox.client import Sandbox, SandboxSettings

EXIT_PROBLEMS = 1
EXIT_USAGE = 2
EXIT_SANDBOX = 3


class Context:
    def __init__(self, bank_path: str | None, unsafe: bool):
        self.bank_path, self.unsafe = bank_path, unsafe
        self.early: launcher.LaunchedZygote | None = None

    def launch_early(self) -> None:
        """Start the fork server now, so it warms up while this process imports torch."""
        self.early = launcher.launch()

    def bank(self) -> "Bank":
        from grader.engine.bank import Bank, BankError

        try:
            return Bank.locate({"GRADER_BANK": self.bank_path} if self.bank_path else None)
        except BankError as exc:
            raise click.ClickException(str(exc)) from None

    def settings(self, bank: "Bank") -> "SandboxSettings":
        """The sandbox must never be able to read the bank's solutions or checks."""
        from grader.sandbox.client import SandboxSettings

        return SandboxSettings(unsafe=self.unsafe,
                               forbidden_paths=(str(bank.solutions_dir), str(bank.exercises_dir)))

    def sandbox(self, bank: "Bank") -> "Sandbox":
        from grader.sandbox.client import Sandbox, SandboxUnavailable

        settings = self.settings(bank)
        if self.unsafe:
            click.secho("WARNING: --unsafe-sandbox: student code may run without some "
                        "sandbox layers. Never use this for real submissions.", fg="red",
                        err=True, bold=True)
        early, self.early = self.early, None
        warming = warm_in_background() if early is not None else None
        try:
            return Sandbox(settings, launched=early).start()
        except SandboxUnavailable as exc:
            click.secho(f"error: {exc}", fg="red", err=True)
            sys.exit(EXIT_SANDBOX)
        finally:
            if warming is not None:
                warming.join()


class LocaleType(click.ParamType):
    """A language for feedback and statements: en, zh or ru (also zh-CN, zh_Hans, ru_RU...)."""

    name = "LANG"

    def convert(self, value, param, ctx):  # noqa: ANN001, ANN201
        from grader.i18n.locales import normalize

        locale = normalize(str(value))
        if locale is None:
            self.fail(f"{value!r} is not a supported language: use en, zh or ru", param, ctx)
        return locale


LOCALE = LocaleType()


def _default_locale() -> str:
    from grader.i18n.locales import from_environment

    return from_environment()


LANG_OPTION = click.option("--lang", "locale", type=LOCALE, default=_default_locale, show_default="from $LANG",
                           help="The language of the feedback: en, zh or ru.")


def warm_in_background() -> "threading.Thread":
    """Warm torch.optim in this process (its first step imports ~800 modules) on a thread,
    while the main thread waits for the fork server: the first reference is then fast."""
    import threading

    from grader.specs import exercise_torch

    thread = threading.Thread(target=exercise_torch, name="warm-torch", daemon=True)
    thread.start()
    return thread


def _chosen(bank: "Bank", slugs: tuple[str, ...]) -> list:
    from grader.engine.bank import BankError

    try:
        return bank.exercises(list(slugs) or None)
    except BankError as exc:
        raise click.ClickException(str(exc)) from None


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--bank", "bank_path", envvar="GRADER_BANK", metavar="DIR",
              help="Folder holding exercises/ and solutions/ (default: the current directory).")
@click.option("--unsafe-sandbox", is_flag=True,
              help="Grade even if a sandbox layer is unavailable. For development on odd kernels only.")
@click.pass_context
def main(ctx: click.Context, bank_path: str | None, unsafe_sandbox: bool) -> None:
    """Grade PyTorch autograd exercises with property checks against sandboxed student code.

    \b
    Typical use:
      grader doctor                                  # is the sandbox complete on this machine?
      grader check                                   # validate the whole exercise bank
      grader grade fix.py --exercise none-grad-after-rebinding
    """
    ctx.obj = Context(bank_path, unsafe_sandbox)


