"""A development provider: writes each text to the ``flask_sms`` log instead of a phone."""

from __future__ import annotations

import logging
import sys
import uuid
from collections.abc import Mapping, Sequence
from typing import Any

from phonenumbers import PhoneNumber

from ..phones import e164
from .base import Provider, Reply, Template

logger = logging.getLogger("flask_sms")


class ConsoleProvider(Provider):
    name = "console"
    max_per_request = 1000
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

    def render(self, purpose: str, template: Template, params: Mapping[str, Any]) -> dict[str, str]:
        return dict(template.pick(params, self.name, purpose))

    def build_request(self, phones: Sequence[str], template: Template, rendered: dict[str, str]) -> Any:
        return list(phones), template.id, rendered

    def call(self, request: Any) -> str:
        phones, purpose, values = request
        shown = " ".join(f"{name}={value}" for name, value in values.items())
        logger.info("SMS to %s [%s] %s", ", ".join(phones), purpose, shown)
        return uuid.uuid4().hex

    def parse(self, raw: str, phones: Sequence[str]) -> Reply:
        return Reply(accepted={phone: raw for phone in phones}, request_id=raw)
