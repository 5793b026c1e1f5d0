"""The values that pass between the sender and a provider: templates, payloads, replies."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from ..errors import MissingParameter
from ..options import Invalid, as_mapping
from ..results import DeliveryReport


@dataclass(frozen=True)
class Template:
    """A vendor template: its id (or Ihuyi's content) and the named parameters it takes, in order.

    ``params`` is ``None`` when the config gave a bare string: then every
    parameter the caller passed is sent, in the caller's order. ``sign`` is
    the purpose's own sign name, sent instead of the provider's ``SIGN_NAME``.
    """

    id: str
    params: tuple[str, ...] | None = None
    sign: str | None = None

    def pick(self, values: Mapping[str, Any], provider: str, purpose: str) -> tuple[tuple[str, str], ...]:
        names = list(values) if self.params is None else self.params
        picked = []
        for name in names:
            if name not in values or values[name] is None:
                raise MissingParameter(provider, purpose, name)
            picked.append((name, str(values[name])))
        return tuple(picked)


@dataclass(frozen=True)
class Payload:
    """One purpose's message for one provider, rendered once per send and reused for every chunk.

    ``params`` are the template's named values in send order; ``text`` is the
    whole message, for vendors that take content instead of a template id.
    """

    template: Template
    params: tuple[tuple[str, str], ...] = ()
    text: str = ""
    out_id: str = ""

    def values(self) -> list[str]:
        """The values alone, for vendors whose parameters are positional."""
        return [value for _, value in self.params]


def text_payload(template: Template, params: Mapping[str, Any], provider: str, purpose: str) -> Payload:
    """For vendors that take the whole text (Ihuyi, Yunpian): fill the content template's ``str.format`` fields."""
    if template.params is None:
        picked = tuple((name, str(value)) for name, value in params.items() if value is not None)
    else:
        picked = template.pick(params, provider, purpose)
    try:
        return Payload(template, picked, template.id.format_map(dict(picked)))
    except KeyError as exc:
        raise MissingParameter(provider, purpose, str(exc.args[0])) from None


@dataclass
class Reply:
    """One vendor reply, normalised: which numbers it took and which it refused."""

    accepted: dict[str, str] = field(default_factory=dict)  # wire number -> message id
    rejected: dict[str, tuple[str, str]] = field(default_factory=dict)  # wire number -> (code, message)
    request_id: str = ""
    #: reports known at once (the console provider "delivers" as it sends)
    reports: list[DeliveryReport] = field(default_factory=list)


def _entry_problems(where: str, value: Any) -> list[str]:
    """Problems with one purpose's template: a bare id, or ``{"id": ..., "params": [...]}``."""
    if isinstance(value, Mapping):
        return [f"{where}{'' if text.startswith('[') else ' '}{text}" for text in _mapping_problems(value)]
    if isinstance(value, (str, int)) and not isinstance(value, bool) and str(value).strip():
        return []
    return [f"{where} must be a template id string or {{'id': ..., 'params': [...], 'sign': ...}}"]


def _mapping_problems(value: Mapping[str, Any]) -> list[str]:
    template_id, params, sign = value.get("id"), value.get("params"), value.get("sign")
    unknown = sorted(set(value) - {"id", "params", "sign"})
    problems = []
    if template_id is None or isinstance(template_id, bool) or not str(template_id).strip():
        problems.append("needs a non-empty 'id'")
    if params is not None and not _names(params):
        problems.append("['params'] must be a list of parameter names")
    if sign is not None and (not isinstance(sign, str) or not sign.strip()):
        problems.append("['sign'] must be a non-empty sign name")
    if unknown:
        problems.append(f"has unknown keys {unknown}")
    return problems


def _names(value: Any) -> bool:
    return isinstance(value, (list, tuple)) and all(isinstance(item, str) for item in value)


def templates(value: Any) -> dict[str, Template]:
    """Parse ``SMS_<PROVIDER>_TEMPLATES``: purpose -> ``"SMS_1"`` or ``{"id": "SMS_1", "params": ["code"], "sign": "..."}``."""
    value = as_mapping(value)
    if not isinstance(value, Mapping) or not value:
        raise Invalid("must be a non-empty mapping of purpose -> template", show_value=False)
    problems = [problem for purpose, entry in value.items() for problem in _entry_problems(f"[{purpose!r}]", entry)]
    if problems:
        raise Invalid(*problems, show_value=False)
    parsed = {}
    for purpose, entry in value.items():
        if isinstance(entry, Mapping):
            params, sign = entry.get("params"), entry.get("sign")
            parsed[str(purpose)] = Template(
                str(entry["id"]), None if params is None else tuple(params), None if sign is None else sign.strip()
            )
        else:
            parsed[str(purpose)] = Template(str(entry))
    return parsed
