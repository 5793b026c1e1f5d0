"""The docs say everything a user can configure, call, receive or catch, and each page where a reader looks for it.

Generated tables cannot go stale on their own (docs/_ext/option_tables.py renders every ``Option``'s ``doc``);
these tests make sure nothing is left out of them, and that the hand-written tables (the routes' error codes,
the exceptions, each vendor's outcome table, the module map) keep up with the code.
"""

from __future__ import annotations

import importlib
import inspect
import pkgutil
import re
import sys
from pathlib import Path
from typing import Any

import pytest
from flask import Flask

import flask_sms
from flask_sms.options import Option
from flask_sms.providers import REGISTRY, provider_class

ROOT = Path(__file__).resolve().parents[2]
DOCS = ROOT / "docs"
sys.path.insert(0, str(DOCS / "_ext"))
import option_tables  # docs/_ext: the option tables the docs render (needs no Sphinx)

VENDORS = [name for name in REGISTRY if name != "console"]


def page(name: str) -> str:
    return (DOCS / name).read_text(encoding="utf-8")


def every_page() -> str:
    pages = sorted(path for path in DOCS.rglob("*.md") if "_generated" not in path.parts)
    return "\n".join(path.read_text(encoding="utf-8") for path in [ROOT / "README.md", *pages])


def declared_options() -> list[tuple[str, Option]]:
    """Every ``Option`` flask_sms declares, wherever it is: module tables and provider classes' ``options``."""
    found: dict[int, tuple[str, Option]] = {}
    for info in pkgutil.walk_packages(flask_sms.__path__, "flask_sms."):
        module = importlib.import_module(info.name)
        holders: list[tuple[str, Any]] = [(module.__name__, module)]
        holders += [(f"{module.__name__}.{name}", cls) for name, cls in inspect.getmembers(module, inspect.isclass)]
        for where, holder in holders:
            for name, value in vars(holder).items():
                if isinstance(value, tuple) and value and all(isinstance(item, Option) for item in value):
                    for option in value:
                        found.setdefault(id(option), (f"{where}.{name}", option))
    return list(found.values())


def test_every_option_has_a_doc_and_a_row_in_the_generated_tables():
    declared = declared_options()
    assert len(declared) > 100, "the walk found too few options: it is looking in the wrong place"
    undocumented = [f"{where}: {option.name}" for where, option in declared if not option.doc.strip()]
    assert undocumented == [], f"options without a doc: {undocumented}"
    shown = {id(row.option) for row in option_tables.every_row()}
    missing = [f"{where}: {option.name}" for where, option in declared if id(option) not in shown]
    assert missing == [], f"options the docs' tables do not show: {missing}"


def test_every_option_table_is_on_the_configuration_page():
    text = page("configuration.md")
    used = set(re.findall(r"^```\{sms-options\} (\S+)$", text, re.MULTILINE))
    assert set(option_tables.tables()) - used == set(), "tables the configuration page leaves out"


def test_each_vendor_has_a_page_with_its_keys():
    for name in REGISTRY:
        text = page(f"vendors/{name}.md")
        assert f"```{{sms-options}} {name}\n" in text, f"docs/vendors/{name}.md does not show its keys"
    listed = re.search(r"```\{toctree\}\n(.*?)```", page("vendors/index.md"), re.DOTALL)
    assert listed is not None and set(REGISTRY) <= set(listed.group(1).split())


def test_every_public_name_is_in_the_api_reference():
    text = page("api.md")
    missing = [name for name in flask_sms.__all__ if not re.search(rf"flask_sms\.{name}\b", text)]
    assert missing == [], f"docs/api.md misses {missing}"
    assert "flask_sms.contrib.flask_security" in text and "flask_sms.contrib.celery" in text


def test_every_route_is_documented():
    app = Flask("docs_routes")
    app.testing = True
    app.config.update(SECRET_KEY="x" * 32, SMS_RECEIPT_TOKEN="a-receipt-token-long-enough", SMS_DEV_INBOX=True)
    flask_sms.SmsExtension(app)
    rules = sorted({rule.rule for rule in app.url_map.iter_rules() if rule.endpoint.startswith("sms")})
    assert "/sms_captcha/" in rules and any(rule.startswith("/sms_receipts/") for rule in rules)
    text = every_page()
    shown = [re.sub(r"<(?:\w+:)?(\w+)>", r"<\1>", rule) for rule in rules if "/static/" not in rule]
    missing = [rule for rule in shown if re.sub(r"<\w+>", "", rule).rstrip("/") not in text]
    assert missing == [], f"routes no page names: {missing}"


def test_every_signal_is_documented():
    from flask_sms import signals

    names = [name for name, value in vars(signals).items() if hasattr(value, "connect") and not name.startswith("_")]
    assert names
    flow = page("flow.md")
    missing = [name for name in names if f"`flask_sms.{name}`" not in flow]
    assert missing == [], f"docs/flow.md's signals table misses {missing}"


def test_the_error_tables_are_complete():
    """Every error code in the routes' table (with a status), every exception in the Errors page."""
    from flask_sms import codes
    from flask_sms.errors import SmsError

    flow = page("flow.md")
    routes_table = flow[flow.index("## Error codes") : flow.index("## Languages")]
    missing_codes = [
        value
        for name, value in vars(codes).items()
        if name.isupper() and isinstance(value, str) and not re.search(rf"\| \d{{3}} \| `{value}` \|", routes_table)
    ]
    assert missing_codes == [], f"docs/flow.md's error-code table misses {missing_codes}"
    errors = page("errors.md")
    exported = [
        name
        for name in flask_sms.__all__
        if isinstance(getattr(flask_sms, name), type) and issubclass(getattr(flask_sms, name), SmsError)
    ]
    missing = [name for name in exported if f"| `{name}` |" not in errors]
    assert missing == [], f"docs/errors.md's table misses {missing}"


@pytest.mark.parametrize("vendor", VENDORS)
def test_each_vendor_page_lists_every_code_that_does_not_fail_over(vendor):
    text = page(f"vendors/{vendor}.md")
    table = text[text.index("## Outcomes") :]
    table = table[table.index("| vendor |") :]
    header, _, row, *_ = [line.strip("|").split(" | ") for line in table.split("\n\n")[0].splitlines()]
    columns = [
        next(outcome for outcome in ("rejected", "content", "unknown") if outcome in cell) for cell in header[1:]
    ]
    cells = dict(zip(columns, row[1:]))
    classes = provider_class(vendor).error_classes
    misplaced = [
        (code, outcome)
        for code, outcome in classes.items()
        if outcome != "failed" and f"`{code}`" not in cells[outcome]
    ]
    assert misplaced == [], f"docs/vendors/{vendor}.md's outcome table misses (or misplaces) {misplaced}"
    # and lists no code (outside its explanations in parentheses) in a column its provider does not give it;
    # Tencent's "unknown" are its SDK's names for a broken-off reply, classed in its module, not its table
    listed = [
        (code, outcome)
        for outcome, cell in cells.items()
        if (vendor, outcome) != ("tencent", "unknown")
        for code in re.findall(r"`([^`]+)`", re.sub(r"\([^)]*\)", "", cell))
    ]
    stale = [(code, outcome) for code, outcome in listed if classes.get(code) != outcome]
    assert stale == [], f"docs/vendors/{vendor}.md's outcome table lists codes the provider classes otherwise: {stale}"


def test_the_layout_page_names_every_module():
    table = page("layout.md")
    modules = {path.name for path in (ROOT / "flask_sms").glob("*.py") if path.name != "__init__.py"}
    missing = sorted(name for name in modules if f"`{name}`" not in table)
    assert missing == [], f"docs/layout.md does not name {missing}"
    assert "`providers/`" in table
    folders = sorted(
        path.name for path in (ROOT / "tests").iterdir() if path.is_dir() and not path.name.startswith((".", "_"))
    )
    missing_folders = [name for name in folders if f"tests/{name}" not in table]
    assert missing_folders == [], f"docs/layout.md does not describe the test folders {missing_folders}"


def test_every_file_the_docs_name_exists():
    """A path in backticks (``tests/...``, ``flask_sms/...``, ``bench/...``, ``docs/...``) names a file or folder of
    the tree: a test moved or a module renamed updates the page that sends readers there."""
    text = every_page()
    named = set(re.findall(r"`((?:tests|flask_sms|bench|docs|example_app)/[\w./-]*[\w/])`", text))
    assert len(named) > 20, "the pattern found too few paths: it is wrong"
    placeholders = ("<", "*")
    missing = sorted(path for path in named if not any(p in path for p in placeholders) and not (ROOT / path).exists())
    assert missing == [], f"the docs name paths that do not exist: {missing}"


def test_the_readme_is_a_front_page():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert len(readme.splitlines()) <= 200
    assert "## 中文简介" in readme
    assert "https://flask-sms-captcha.readthedocs.io/" in readme
