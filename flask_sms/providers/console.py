"""A development provider: writes each text to the ``flask_sms`` log instead of a phone."""

from __future__ import annotations

import logging
import sys
import uuid
from collections.abc import Mapping, Sequence
from typing import Any

from phonenumbers import PhoneNumber

from ..options import UNSET, Option
from ..phones import e164
from .base import Provider
from .payload import Payload, Reply, Template, templates

ConsoleRequest = tuple[list[str], str, dict[str, str]]  # numbers, purpose, named values

logger = logging.getLogger("flask_sms")


class ConsoleProvider(Provider[ConsoleRequest, str]):
    name = "console"
    max_per_request = 1000
    options = (Option("TEMPLATES", UNSET, templates),)
    needs_templates = False

    def __init__(self, settings: Mapping[str, Any], timeout: float) -> None:
        super().__init__(settings, timeout)
        # Like Flask's own logger: make the texts visible in the terminal unless
        # the app configured logging itself.
        if not logger.handlers and not logging.getLogger().handlers:
            handler = logging.StreamHandler(sys.stderr)
            handler.setFormatter(logging.Formatter("[%(asctime)s] %(levelname)s in flask_sms: %(message)s"))
            logger.addHandler(handler)
        if logger.level == logging.NOTSET:
            logger.setLevel(logging.INFO)

    def template_for(self, purpose: str) -> Template:
        return self.templates.get(purpose) or Template(purpose)

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
        return Reply(accepted={phone: raw for phone in phones}, request_id=raw)
