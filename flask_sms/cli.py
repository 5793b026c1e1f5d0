"""``flask sms send PHONE PURPOSE --param code=1234``: try the configured vendors from a shell."""

from __future__ import annotations

from typing import TYPE_CHECKING

import click
from flask import current_app
from flask.cli import AppGroup

from .errors import SendError, SmsError
from .results import SendResult

if TYPE_CHECKING:
    from .extension import SmsExtension

sms_cli = AppGroup("sms", help="Send SMS through the configured providers.")


def _parse_param(ctx: click.Context, param: click.Parameter, values: tuple[str, ...]) -> dict[str, str]:
    parsed = {}
    for item in values:
        name, sep, value = item.partition("=")
        if not sep or not name:
            raise click.BadParameter(f"{item!r} is not NAME=VALUE", ctx=ctx, param=param)
        parsed[name] = value
    return parsed


@sms_cli.command("send")
@click.argument("phone")
@click.argument("purpose")
@click.option(
    "--param",
    "-p",
    "params",
    multiple=True,
    callback=_parse_param,
    metavar="NAME=VALUE",
    help="A template parameter; repeat for more.",
)
def send_command(phone: str, purpose: str, params: dict[str, str]) -> None:
    """Send PURPOSE's template to PHONE (comma-separate several numbers)."""
    extension: SmsExtension = current_app.extensions["sms"]
    numbers = [part for part in phone.split(",") if part.strip()]
    try:
        result = extension.send(numbers, purpose, params)
    except SendError as exc:
        for attempt in exc.attempts:
            click.echo(f"failed  {attempt}", err=True)
        raise SystemExit(1) from None
    except SmsError as exc:
        raise click.ClickException(str(exc)) from None
    _print_result(result)


def _print_result(result: SendResult) -> None:
    for attempt in result.attempts:
        click.echo(f"{'sent   ' if attempt.ok else 'failed '} {attempt}")
    if result.suppressed:
        click.echo("SMS_SUPPRESS_SEND is on: nothing left this process")
    click.echo(f"delivered via {result.provider}: {', '.join(result.delivered)}")
    if result.message_ids:
        click.echo(f"message ids: {', '.join(result.message_ids)}")
    for number, attempt in result.failed.items():
        click.echo(f"not delivered {number}: {attempt}", err=True)
    if result.failed:
        raise SystemExit(1)
