"""The tables of config keys the docs show, read from flask_sms's own declarations (no Sphinx needed).

Each key is declared once, as an :class:`flask_sms.options.Option` (its default, its parser and its
``doc``). :func:`tables` gathers them by table name and :func:`markdown_table` renders one; the
``sms-options`` directive (``sms_options.py``) puts it in a page, and
``tests/integration/test_docs_complete.py`` checks that every declared option has a ``doc`` and a row here.
"""

from __future__ import annotations

import importlib
import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Row:
    key: str
    option: Any
    #: the key read when this one is unset (a voice or code-backend key sharing the vendor's SMS key)
    falls_back_to: str = ""


def _core() -> dict[str, list[Row]]:
    from flask_sms.channels import VOICE_KEYS
    from flask_sms.code_backends import BACKEND_KEYS
    from flask_sms.config import FLOW_KEYS, RECEIPT_KEYS, SEND_KEYS
    from flask_sms.providers.base import Provider

    found = {
        "send": SEND_KEYS,
        "flow": FLOW_KEYS,
        "receipts": RECEIPT_KEYS,
        "voice": VOICE_KEYS,
        "code-backend": BACKEND_KEYS,
    }
    tables = {name: [Row(option.name, option) for option in options] for name, options in found.items()}
    tables["provider-common"] = [Row(f"SMS_<NAME>_{o.name}", o) for o in Provider.common_options]
    return tables


def _labelled(cls: Any, vendor: str, label: str) -> list[Row]:
    """A voice provider's or code backend's keys: its own, then the vendor's SMS keys it falls back to."""
    own = f"SMS_{vendor.upper()}_{label}_"
    rows = [Row(own + option.name, option) for option in cls.options]
    return rows + [
        Row(own + option.name, option, f"SMS_{vendor.upper()}_{option.name}") for option in cls.shared_options
    ]


def tables() -> dict[str, list[Row]]:
    """Every table of keys the docs can show, by name."""
    from flask_sms.channels import VOICE_REGISTRY, voice_class
    from flask_sms.code_backends import BACKENDS
    from flask_sms.providers import REGISTRY, provider_class

    found = _core()
    for name in REGISTRY:
        cls = provider_class(name)
        found[name] = [Row(f"SMS_{name.upper()}_{option.name}", option) for option in cls.options]
        found[name] += [Row(f"SMS_{name.upper()}_{option.name}", option) for option in cls.common_options]
    for vendor in VOICE_REGISTRY:
        found[f"{vendor}-voice"] = _labelled(voice_class(vendor), vendor, "VOICE")
    for backend, where in BACKENDS.items():
        module, name = where.split(":")
        cls = getattr(importlib.import_module(module), name)
        found[f"backend-{backend}"] = _labelled(cls, backend.split("_")[0], cls.label)
    return found


def every_row() -> Iterator[Row]:
    for rows in tables().values():
        yield from rows


def shown_default(row: Row) -> str:
    from flask_sms.config import AppDefault
    from flask_sms.options import REQUIRED, UNSET

    default = row.option.default
    if row.falls_back_to:
        return f"`{row.falls_back_to}`"
    if default is REQUIRED:
        return "required"
    if default is UNSET:
        return "unset"
    if isinstance(default, AppDefault):
        return default.doc
    if isinstance(default, str):
        return f"`{json.dumps(default, ensure_ascii=False)}`"
    return f"`{default!r}`"


def _cell(text: str) -> str:
    return text.replace("\n", " ").replace("|", "\\|").replace("\\\\|", "\\|")


def markdown_table(rows: list[Row]) -> list[str]:
    lines = ["| key | default | what it does |", "|---|---|---|"]
    for row in rows:
        doc = row.option.doc
        if row.option.secret:
            doc += ". A credential: never shown in an error, masked in every log"
        lines.append(f"| `{row.key}` | {_cell(shown_default(row))} | {_cell(doc)} |")
    return lines
