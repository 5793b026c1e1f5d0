"""How one config value is read and checked.

Each ``SMS_*`` key, core or provider, is declared once as an :class:`Option`:
its default, its parser (which holds its bounds) and, through the parser, its
error text. Parsers accept what ``app.config.from_prefixed_env()`` produces:
JSON strings for lists and mappings, numbers for id keys.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Final

import phonenumbers


class Invalid(ValueError):
    """A value a parser refuses; each problem completes the sentence "<KEY> ...".

    ``usable`` is what can still be checked further (e.g. the known names of a
    list with one unknown), so one pass finds every problem.
    """

    def __init__(self, *problems: str, show_value: bool = True, usable: Any = None) -> None:
        super().__init__(*problems)
        self.problems = problems
        self.show_value = show_value
        self.usable = usable


class _Required:
    def __repr__(self) -> str:
        return "REQUIRED"


#: the default of a key that must be set
REQUIRED: Final = _Required()


class _Unset:
    def __repr__(self) -> str:
        return "UNSET"


#: the default of a key that may stay unset (no default is written into ``app.config``)
UNSET: Final = _Unset()

Parser = Callable[[Any], Any]


# -- parsers ------------------------------------------------------------------------------------
def text(value: Any) -> str:
    """A string; numbers are read as their digits (ids from the environment)."""
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    if not isinstance(value, str):
        raise Invalid(f"must be a string (got {type(value).__name__})", show_value=False)
    return value.strip()


def regex(value: Any) -> re.Pattern[str]:
    """A regular expression (a string, or one compiled already)."""
    if isinstance(value, re.Pattern):
        return value
    try:
        return re.compile(text(value))
    except re.error as exc:
        raise Invalid(f"must be a regular expression ({exc})") from None


def as_list(value: Any) -> Any:
    """``'["a","b"]'`` and ``"a, b"`` become lists; anything else is left for the caller to check."""
    if isinstance(value, str):
        stripped = value.strip()
        if stripped.startswith("["):
            try:
                return json.loads(stripped)
            except ValueError:
                return value
        return [part.strip() for part in stripped.split(",") if part.strip()]
    return value


def as_mapping(value: Any) -> Any:
    if isinstance(value, str):
        try:
            return json.loads(value)
        except ValueError:
            return value
    return value


def boolean(value: Any) -> bool:
    if isinstance(value, str):
        lowered = value.strip().lower()
        if lowered in ("1", "true", "yes", "on"):
            return True
        if lowered in ("0", "false", "no", "off", ""):
            return False
    if not isinstance(value, bool):
        raise Invalid("must be true or false")
    return value


def _number(value: Any, kind: Callable[[Any], Any]) -> Any:
    if isinstance(value, bool):
        return value
    try:
        return kind(value)
    except (TypeError, ValueError):
        return value


def integer(low: int, high: int) -> Parser:
    def parse(value: Any) -> int:
        number = _number(value, int)
        if not isinstance(number, int) or isinstance(number, bool) or not low <= number <= high:
            raise Invalid(f"must be an integer from {low} to {high}")
        return number

    return parse


def seconds(low: float, high: float) -> Parser:
    """A number of seconds in ``(low, high]``."""

    def parse(value: Any) -> float:
        number = _number(value, float)
        if not isinstance(number, float) or not low < number <= high:
            raise Invalid(f"must be a number of seconds between {low:g} and {high:g}")
        return number

    return parse


def region(value: Any) -> str:
    if isinstance(value, int) and not isinstance(value, bool):
        value = str(value)
    if not isinstance(value, str) or value.strip().upper() not in phonenumbers.SUPPORTED_REGIONS:
        raise Invalid("must be a region code such as 'CN'")
    return value.strip().upper()


def regions_or_all(value: Any) -> frozenset[str] | None:
    """A list of region codes, or ``["*"]`` (``None``: every region)."""
    regions = as_list(value)
    if regions == ["*"]:
        return None
    if (
        not isinstance(regions, (list, tuple))
        or not regions
        or not all(isinstance(r, str) and r.upper() in phonenumbers.SUPPORTED_REGIONS for r in regions)
    ):
        raise Invalid("must be a list of region codes such as ['CN'], or ['*']")
    return frozenset(r.upper() for r in regions)


def e164_numbers(value: Any) -> frozenset[str]:
    """A list of phone numbers in E.164 (``"+8613800138000"``), kept as E.164."""
    numbers = as_list(value)
    if not isinstance(numbers, (list, tuple)) or not all(isinstance(n, str) for n in numbers):
        raise Invalid("must be a list of E.164 numbers such as ['+8613800138000']")
    parsed = set()
    for number in numbers:
        try:
            found = phonenumbers.parse(number.strip(), None)
        except phonenumbers.NumberParseException:
            raise Invalid(f"has {number!r}, which is not an E.164 number such as '+8613800138000'") from None
        if not phonenumbers.is_valid_number(found):
            raise Invalid(f"has {number!r}, which is not a valid phone number")
        parsed.add(phonenumbers.format_number(found, phonenumbers.PhoneNumberFormat.E164))
    return frozenset(parsed)


#: ``SMS_ALLOWED_NUMBER_TYPES`` names: phonenumbers' ``PhoneNumberType`` members, lower-case
NUMBER_TYPES: dict[str, int] = {
    name.lower(): number
    for name, number in vars(phonenumbers.PhoneNumberType).items()
    if name.isupper() and isinstance(number, int)
}
_EITHER = phonenumbers.PhoneNumberType.FIXED_LINE_OR_MOBILE
_EITHER_COUNTS_AS = (phonenumbers.PhoneNumberType.MOBILE, phonenumbers.PhoneNumberType.FIXED_LINE)


def number_types(value: Any) -> frozenset[int] | None:
    """Names of phonenumbers' number types (``["mobile"]``), or ``["*"]`` (``None``: every type).

    phonenumbers says ``fixed_line_or_mobile`` where a country's numbering does not
    tell the two apart (the US, Canada): such a number counts as mobile (and as fixed line).
    """
    items = as_list(value)
    if items == ["*"]:
        return None
    if (
        not isinstance(items, (list, tuple))
        or not items
        or not all(isinstance(item, str) and item.strip().lower() in NUMBER_TYPES for item in items)
    ):
        raise Invalid(f"must be a list of number types ({', '.join(NUMBER_TYPES)}), or ['*']")
    chosen = {NUMBER_TYPES[item.strip().lower()] for item in items}
    if chosen & set(_EITHER_COUNTS_AS):
        chosen.add(_EITHER)
    return frozenset(chosen)


_ORIGIN = re.compile(r"^(?P<scheme>https?)://(?P<host>\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9.-]+)(?::(?P<port>\d{1,5}))?/?$")
_DEFAULT_PORTS = {"http": "80", "https": "443"}


def normalise_origin(value: str) -> str | None:
    """``"HTTPS://Example.com:443/"`` -> ``"https://example.com"``; ``None`` if it is not an origin."""
    match = _ORIGIN.match(value.strip())
    if match is None:
        return None
    scheme, host, port = match["scheme"].lower(), match["host"].lower(), match["port"]
    if port is None or port == _DEFAULT_PORTS[scheme]:
        return f"{scheme}://{host}"
    return f"{scheme}://{host}:{int(port)}"


def origins(value: Any) -> frozenset[str] | None:
    """Web origins such as ``["https://www.example.com"]`` (no path); ``["*"]`` (``None``) allows every origin."""
    items = as_list(value)
    if items in (None, "", [], ()):
        return frozenset()
    if items == ["*"]:
        return None
    if not isinstance(items, (list, tuple)):
        raise Invalid("must be a list of origins such as ['https://www.example.com'], or ['*']")
    found = [normalise_origin(item) if isinstance(item, str) else None for item in items]
    if not all(found):
        raise Invalid(
            "must be a list of origins such as ['https://www.example.com'] (scheme and host, no path), or ['*']"
        )
    return frozenset(origin for origin in found if origin)


_TOKEN = re.compile(r"^[A-Za-z0-9._~-]+$")
MIN_TOKEN_LENGTH = 16


def receipt_token(value: Any) -> str:
    """A secret that goes in a URL's query string: URL-safe characters, long enough not to be guessed."""
    token = text(value)
    if len(token) < MIN_TOKEN_LENGTH or not _TOKEN.match(token):
        raise Invalid(
            f"must be at least {MIN_TOKEN_LENGTH} URL-safe characters (A-Z a-z 0-9 . _ ~ -); generate one with "
            "python -c 'import secrets; print(secrets.token_urlsafe(24))'",
            show_value=False,
        )
    return token


MAX_AUDIENCE_LENGTH = 200


def audience(value: Any) -> str:
    """Who a verification token is for: a non-empty name, short enough to sign into every token."""
    name = text(value)
    if not name or len(name) > MAX_AUDIENCE_LENGTH:
        raise Invalid(f"must be a non-empty string of at most {MAX_AUDIENCE_LENGTH} characters")
    return name


def networks(value: Any) -> tuple[Any, ...]:
    """CIDRs such as ``["203.0.113.0/24", "2001:db8::/32"]`` (a bare address is its own /32 or /128); empty: any."""
    import ipaddress

    items = as_list(value)
    if items in (None, "", [], ()):
        return ()
    if not isinstance(items, (list, tuple)):
        raise Invalid("must be a list of networks such as ['203.0.113.0/24']")
    parsed, bad = [], []
    for item in items:
        try:
            parsed.append(ipaddress.ip_network(str(item).strip(), strict=False))
        except ValueError:
            bad.append(item)
    if bad:
        raise Invalid(f"has entries that are not IP networks: {bad} (write them as '203.0.113.0/24')", show_value=False)
    return tuple(parsed)


def names(value: Any) -> tuple[str, ...]:
    """A non-empty list of non-empty strings."""
    items = as_list(value)
    if not isinstance(items, (list, tuple)) or not items or not all(isinstance(i, str) and i for i in items):
        raise Invalid("must be a non-empty list of names")
    return tuple(items)


def rate_limits(value: Any) -> tuple[Any, ...]:
    """Flask-Limiter's syntax, ``"5/hour;10/day"`` (or a list); empty turns the limit off."""
    from limits import parse_many

    if value in (None, "", [], ()):
        return ()
    joined = ";".join(value) if isinstance(value, (list, tuple)) else value
    try:
        return tuple(parse_many(str(joined)))
    except ValueError:
        raise Invalid("must be rate limits such as '5/hour;10/day'") from None


def choice(*allowed: Any, describe: str) -> Parser:
    def parse(value: Any) -> Any:
        if value not in allowed:
            raise Invalid(f"must be {describe}")
        return value

    return parse


@dataclass(frozen=True)
class BreakerPolicy:
    """``SMS_CIRCUIT_BREAKER``: skip a provider for ``cooldown`` s after ``failures`` failed or unknown
    sends within ``window`` s."""

    failures: int
    window: float
    cooldown: float


_BREAKER_KEYS = {"failures": (1, 1000), "window": (1, 86400), "cooldown": (1, 86400)}


def circuit_breaker(value: Any) -> BreakerPolicy | None:
    """``{"failures": 5, "window": 60, "cooldown": 30}``; ``None`` (or ``False``) turns the breaker off."""
    value = as_mapping(value)
    if value is None or value is False:
        return None
    shape = "must be None or a mapping such as {'failures': 5, 'window': 60, 'cooldown': 30}"
    if not isinstance(value, dict) or set(value) != set(_BREAKER_KEYS):
        raise Invalid(shape)
    for name, (low, high) in _BREAKER_KEYS.items():
        number = value[name]
        if isinstance(number, bool) or not isinstance(number, (int, float)) or not low <= number <= high:
            raise Invalid(f"[{name!r}] must be a number from {low} to {high}")
    if not isinstance(value["failures"], int):
        raise Invalid("['failures'] must be a whole number")
    return BreakerPolicy(value["failures"], float(value["window"]), float(value["cooldown"]))


def weights(value: Any) -> dict[str, int]:
    """``{"aliyun": 80, "tencent": 20}``: provider entry -> a whole number >= 0."""
    value = as_mapping(value)
    if value is None or value == {}:
        return {}
    if not isinstance(value, dict) or not all(
        isinstance(name, str) and isinstance(weight, int) and not isinstance(weight, bool) and 0 <= weight <= 10**6
        for name, weight in value.items()
    ):
        raise Invalid("must map provider names to whole numbers from 0 to 1000000, e.g. {'aliyun': 80, 'tencent': 20}")
    return dict(value)


_PROXY_SCHEMES = ("http://", "https://", "socks5://", "socks5h://")


def proxy(value: Any) -> str | bool | None:
    """A proxy URL for every vendor call; ``False``: none, whatever the environment says."""
    if value is False:
        return False
    if not isinstance(value, str) or not value.startswith(_PROXY_SCHEMES) or len(value) > 2048:
        raise Invalid(f"must be a proxy URL starting with {', '.join(_PROXY_SCHEMES)}, or False for no proxy")
    return value


def url_path_prefix(value: Any) -> str:
    if value is None or value == "":
        return ""
    if not isinstance(value, str) or not value.startswith("/"):
        raise Invalid("must be empty or start with '/'")
    return value.rstrip("/")


_SUBDOMAIN = re.compile(r"^[A-Za-z0-9](?:[A-Za-z0-9.-]{0,251}[A-Za-z0-9])?$")


def subdomain(value: Any) -> str | None:
    """A subdomain such as ``"api"`` (Flask needs ``SERVER_NAME`` set to route by subdomain)."""
    if value is None or value == "":
        return None
    if not isinstance(value, str) or not _SUBDOMAIN.match(value):
        raise Invalid("must be a subdomain such as 'api'")
    return value


def url_with_scheme(*schemes: str, describe: str) -> Parser:
    def parse(value: Any) -> str:
        if not isinstance(value, str) or not value.startswith(schemes):
            raise Invalid(f"must {describe}")
        return value

    return parse


_HOST = re.compile(r"^[A-Za-z0-9.-]+(:\d{1,5})?$")


def host(example: str) -> Parser:
    def parse(value: Any) -> str:
        if not isinstance(value, str) or not _HOST.match(value):
            raise Invalid(f"must be a host or host:port, e.g. {example!r}")
        return value

    return parse


scheme = choice("http", "https", describe="'http' or 'https'")


def _blank(value: Any) -> bool:
    """Nothing there: ``None`` or a string of only spaces (a key left empty in an env file)."""
    return value is None or (isinstance(value, str) and not value.strip())


@dataclass(frozen=True)
class Option:
    """One config key: its name (a suffix after ``SMS_<PROVIDER>_`` for provider keys),
    its default (or :data:`REQUIRED` / :data:`UNSET`), its parser and whether it is a credential
    (never echoed in an error, masked in every log)."""

    name: str
    default: Any = REQUIRED
    parse: Parser = text
    secret: bool = False
    #: said after "<KEY> is required", e.g. an example value
    hint: str = ""
    #: how a bad value is shown in an error (e.g. a URL with its password masked); as is when unset
    shown: Callable[[Any], Any] | None = None
    #: an explicit ``None`` in the config is a value (it turns the feature off), not "use the default"
    none_is_value: bool = False
    #: what the key does, for people (Markdown): the docs' configuration page is rendered from it
    doc: str = ""

    def problems(self, key: str, value: Any) -> tuple[Any, list[str]]:
        """The parsed value and the problems with it, each a whole sentence naming ``key``."""
        if value is None and not self._without_default():
            value = self.default  # not in app.config at all (``""`` is a value: it turns a limit off)
        if _blank(value) and self._without_default():
            return None, [f"{key} is required{self.hint}"] if self.default is REQUIRED else []
        try:
            return self.parse(value), []
        except Invalid as exc:
            return exc.usable, [self._sentence(key, problem, value, exc.show_value) for problem in exc.problems]

    def _without_default(self) -> bool:
        """Whether the key has no value of its own to fall back on: it must be set (REQUIRED) or may stay unset."""
        return self.default is REQUIRED or self.default is UNSET

    def _sentence(self, key: str, problem: str, value: Any, show_value: bool) -> str:
        joined = f"{key}{problem}" if problem.startswith("[") else f"{key} {problem}"
        if not show_value or self.secret:
            return joined
        shown = self.shown(value) if self.shown is not None and isinstance(value, str) else value
        return f"{joined} (got {shown!r})"
