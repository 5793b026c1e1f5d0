"""A development provider: writes each text (and each call, on the voice channel) to the ``flask_sms`` log.

It logs at INFO and, like the rest of the library, adds no handler and sets no
level: the app's logging config decides where (and whether) the texts show up.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Sequence
from datetime import datetime

from phonenumbers import PhoneNumber

from ..options import UNSET, Option
from ..phones import e164
from ..results import BEIJING, DeliveryReport
from .base import Provider
from .payload import Payload, Reply, Template, templates
from .voice import VoiceProvider

ConsoleRequest = tuple[list[str], str, dict[str, str]]  # numbers, purpose, named values

logger = logging.getLogger("flask_sms")


class ConsoleProvider(Provider[ConsoleRequest, str]):
    name = "console"
    max_per_request = 1000
    options = (
        Option(
            "TEMPLATES",
            UNSET,
            templates,
            doc="optional, for the `console` provider: purpose → template, to pick and order the parameters it logs; any purpose works without one",
        ),
    )
    needs_templates = False
    masks_values = False  # the log line *is* the text

    def template_for(self, purpose: str, international: bool = False) -> Template:
        return super().template_for(purpose, international) or Template(purpose)

    def format_phone(self, number: PhoneNumber) -> str:
        return e164(number)

    def build_request(self, phones: Sequence[str], payload: Payload) -> ConsoleRequest:
        return list(phones), payload.template.id, dict(payload.params)

    def call(self, request: ConsoleRequest) -> str:
        phones, purpose, values = request
        shown = " ".join(f"{name}={value}" for name, value in values.items())
        logger.info("SMS to %s [%s] %s", ", ".join(phones), purpose, shown)
        return uuid.uuid4().hex

    def parse(self, raw: str, phones: Sequence[str]) -> Reply:
        """Every text "arrives" at once: a ``delivered`` report per number, so receipts can be tried locally."""
        now = datetime.now(BEIJING)
        reports = [
            DeliveryReport(self.name, phone, raw, "", "delivered", "DELIVRD", "console: logged", now, now)
            for phone in phones
        ]
        return Reply(accepted={phone: raw for phone in phones}, request_id=raw, reports=reports)


class ConsoleVoiceProvider(VoiceProvider[ConsoleRequest, str]):
    """The console's "call": the code it would read out, written to the ``flask_sms`` log as a text is."""

    name = "console"
    max_per_request = 1
    options = (
        Option(
            "TEMPLATES",
            UNSET,
            templates,
            doc="optional, for the `console` voice provider: purpose → template, to pick the parameters its logged call reads out; any purpose works without one",
        ),
    )
    needs_templates = False
    masks_values = False  # the log line *is* the call

    def template_for(self, purpose: str, international: bool = False) -> Template:
        return super().template_for(purpose, international) or Template(purpose)

    def format_phone(self, number: PhoneNumber) -> str:
        return e164(number)  # the console calls any number

    def build_request(self, phones: Sequence[str], payload: Payload) -> ConsoleRequest:
        return list(phones), payload.template.id, dict(payload.params)

    def call(self, request: ConsoleRequest) -> str:
        phones, purpose, values = request
        shown = " ".join(f"{name}={value}" for name, value in values.items())
        logger.info("Call to %s [%s] %s", ", ".join(phones), purpose, shown)
        return uuid.uuid4().hex

    def parse(self, raw: str, phones: Sequence[str]) -> Reply:
        """Every call is "answered" at once: a ``delivered`` report, ``channel="voice"``."""
        now = datetime.now(BEIJING)
        reports = [
            DeliveryReport(self.name, phone, raw, "", "delivered", "ANSWERED", "console: logged", now, now, "voice")
            for phone in phones
        ]
        return Reply(accepted={phone: raw for phone in phones}, request_id=raw, reports=reports)
