"""``flask sms send PHONE PURPOSE --param code=1234``: try the configured vendors from a shell."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timezone
from typing import TYPE_CHECKING, NoReturn

import click
from flask import current_app
from flask.cli import AppGroup

from . import test_numbers
from .errors import ConfigError, SendError, SmsError
from .guard_books import Decision
from .interface import SmsInterface, current_sms
from .results import DeliveryReport, SendResult
from .sender import FAILURE_RECORD

if TYPE_CHECKING:
    from .config import Settings

sms_cli = AppGroup("sms", help="Check the SMS config and send texts through the configured providers.")


def _extension() -> SmsInterface:
    try:
        return current_sms()
    except KeyError:
        raise click.ClickException("SmsExtension is not set up on this app") from None


class _DropSendFailures(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        return not all(getattr(record, key, None) == value for key, value in FAILURE_RECORD.items())


@contextmanager
def _failures_printed_here() -> Iterator[None]:
    """The command prints each vendor failure once itself; the library's log lines would repeat them."""
    drop = _DropSendFailures()
    logger = logging.getLogger("flask_sms")
    logger.addFilter(drop)
    try:
        yield
    finally:
        logger.removeFilter(drop)


@sms_cli.command("check")
def check_command() -> None:
    """Check the SMS_* config (and reach the storage); print every problem and exit 1 if there is any.

    Other commands keep working with a broken SMS config; run this one in a deploy script.
    """
    extension = _extension()
    try:
        settings = extension.check()
    except ConfigError as exc:
        _exit_with(exc.problems)
    flow = "off (SMS_ENABLE_CAPTCHA is false)"
    if settings.captcha is not None:
        unreachable = extension.codes.storage_problems()
        if unreachable:
            _exit_with(unreachable)
        flow = f"storage {extension.codes.storage} reachable"
    receipts = "; delivery receipts on (POST .../sms_receipts/<provider>)" if settings.receipts is not None else ""
    calls = f"; calls through {', '.join(settings.voice.providers)}" if settings.voice is not None else ""
    if settings.code_backend is not None:
        calls += f"; codes made, texted and checked by {settings.code_backend.name} (SMS_CODE_BACKEND)"
    providers = ", ".join(settings.providers) or "none"
    click.echo(f"flask_sms: config OK; providers {providers}{calls}; verification flow {flow}{receipts}")
    for warning in _warnings(extension, settings):
        click.echo(f"warning: {warning}", err=True)


def _exit_with(problems: list[str]) -> NoReturn:
    """Print every problem and exit 1."""
    click.echo(f"flask_sms: {len(problems)} problem(s):", err=True)
    for problem in problems:
        click.echo(f"  - {problem}", err=True)
    raise SystemExit(1)


def _warnings(extension: SmsInterface, settings: Settings) -> list[str]:
    """What is allowed but risky: test numbers outside debug/testing, a store that evicts security state."""
    warnings = []
    if settings.test_numbers and not (current_app.debug or current_app.testing):
        warnings.append(test_numbers.warning(settings.test_numbers))
    return warnings + (extension.codes.storage_warnings() if settings.captcha is not None else [])


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
    extension = _extension()
    numbers = [part for part in phone.split(",") if part.strip()]
    try:
        with _failures_printed_here():
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


@sms_cli.command("status")
@click.argument("phone")
@click.option("--provider", "-P", default=None, help="The vendor to ask (default: the first in SMS_PROVIDERS).")
@click.option(
    "--date",
    "day",
    type=click.DateTime(formats=["%Y-%m-%d"]),
    default=None,
    help="The day the texts were sent, YYYY-MM-DD in Beijing time (default: today; Tencent: the last 7 days).",
)
def status_command(phone: str, provider: str | None, day: datetime | None) -> None:
    """Ask the vendor's query API what became of the texts to PHONE; print a table."""
    extension = _extension()
    try:
        chosen = provider or extension.check().providers[0]
        reports = extension.receipts.fetch(chosen, phone=phone, date=day.date() if day else None)
    except SmsError as exc:
        raise click.ClickException(str(exc)) from None
    if not reports:
        click.echo(f"no delivery reports from {chosen} for {phone}")
        return
    _print_reports(reports)


def _print_reports(reports: list[DeliveryReport]) -> None:
    rows = [("PHONE", "STATUS", "CODE", "SENT", "REPORTED", "MESSAGE ID", "OUT ID")]
    for report in sorted(reports, key=lambda r: (r.delivered_at is None, r.delivered_at or datetime.min)):
        rows.append(
            (
                report.phone,
                report.status,
                report.code or "-",
                _when(report.submitted_at),
                _when(report.delivered_at),
                report.message_id or "-",
                report.out_id or "-",
            )
        )
    widths = [max(len(row[column]) for row in rows) for column in range(len(rows[0]))]
    for row in rows:
        click.echo("  ".join(cell.ljust(width) for cell, width in zip(row, widths)).rstrip())


def _when(moment: datetime | None) -> str:
    return moment.strftime("%Y-%m-%d %H:%M:%S%z") if moment else "-"


@sms_cli.command("guard")
@click.option("--release", "release", default=None, metavar="VALUE", help="Lift every decision about VALUE.")
def guard_command(release: str | None) -> None:
    """List what the fraud guard challenges or blocks now, with the counts behind each decision;
    --release VALUE (a prefix, region or network as listed) lifts one."""
    extension = _extension()
    try:
        flow = extension.codes
    except (SmsError, RuntimeError) as exc:
        raise click.ClickException(str(exc)) from None
    if flow.guard is None:
        raise click.ClickException("the fraud guard is off (SMS_FRAUD_GUARD is None)")
    if release is not None:
        lifted = flow.guard.release(release)
        click.echo(
            f"released {release}: {lifted} decision(s) lifted" if lifted else f"nothing stands against {release}"
        )
        return
    decisions = extension.guard_status()
    if not decisions:
        click.echo(f"fraud guard ({flow.guard.mode}): nothing is challenged or blocked")
        return
    _print_decisions(decisions)


def _print_decisions(decisions: list[Decision]) -> None:
    rows = [("DIMENSION", "VALUE", "ACTION", "UNTIL", "REASON", "COUNTS")]
    for decision in decisions:
        counts = ", ".join(f"{name} {value:g}" for name, value in decision.counts.items())
        until = datetime.fromtimestamp(decision.until, timezone.utc).strftime("%Y-%m-%d %H:%M:%SZ")
        rows.append((decision.dimension, decision.value, decision.action, until, decision.reason, counts))
    widths = [max(len(row[column]) for row in rows) for column in range(len(rows[0]))]
    for row in rows:
        click.echo("  ".join(cell.ljust(width) for cell, width in zip(row, widths)).rstrip())
