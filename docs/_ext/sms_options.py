"""The ``sms-options`` directive: a table of config keys rendered from flask_sms's own declarations.

Each key is declared once, as an :class:`flask_sms.options.Option` (its default, its parser and its
``doc``), so the configuration pages cannot drift from the code. Write, in a MyST page::

    ```{sms-options} send
    ```

with one of the names of :func:`tables` (``send``, ``flow``, ``receipts``, ``voice``, ``code-backend``,
``provider-common``, a vendor such as ``aliyun``, its calls' ``aliyun-voice``, or a code backend's
``backend-aliyun_pnvs``). ``tests/integration/test_docs_complete.py`` checks that every declared option has a
``doc`` and appears in some table.
"""

from __future__ import annotations

from typing import Any

from docutils import nodes
from docutils.statemachine import StringList
from option_tables import markdown_table, tables
from sphinx.application import Sphinx
from sphinx.util.docutils import SphinxDirective


class OptionsTable(SphinxDirective):
    """``{sms-options} <table name>``: the keys of that table, with their defaults and docs."""

    required_arguments = 1

    def run(self) -> list[nodes.Node]:
        name = self.arguments[0]
        found = tables()
        if name not in found:
            raise self.error(f"no option table {name!r}; choose from {', '.join(sorted(found))}")
        container = nodes.container(classes=["sms-options"])
        source, _line = self.get_source_info()
        content = StringList(markdown_table(found[name]), source=source)
        self.state.nested_parse(content, self.content_offset, container)
        return [container]


def setup(app: Sphinx) -> dict[str, Any]:
    app.add_directive("sms-options", OptionsTable)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
