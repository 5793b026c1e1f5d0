"""The docs' glue table (docs/existing-app.md) is what the integration apps really need, and phone login in a
Flask-Login app fits in 40."""

from __future__ import annotations

import re

from integration_helpers import HERE, glue_lines

PAGE = HERE.parents[1] / "docs" / "existing-app.md"


def test_the_docs_glue_table_counts_each_apps_glue():
    text = PAGE.read_text(encoding="utf-8")
    rows = dict(re.findall(r"^\| `(\w+_app\.py)` \| [^|]+ \| (\d+) \|$", text, re.MULTILINE))
    apps = sorted(path.name for path in HERE.glob("*_app.py") if not path.name.startswith("test_"))
    assert sorted(rows) == apps
    assert {name: glue_lines(name) for name in apps} == {name: int(count) for name, count in rows.items()}
    assert glue_lines("login_app.py") <= 40


def test_the_counter_counts_code_and_template_lines_between_the_markers(tmp_path, monkeypatch):
    import integration_helpers

    (tmp_path / "x_app.py").write_text(
        "a = 1\n# --- flask_sms glue ---\nb = 2\n\n# a comment\nPAGE = '''\n{# --- end glue --- #}\n"
        "# --- end glue ---\nc = 3\n",
        encoding="utf-8",
    )
    monkeypatch.setattr(integration_helpers, "HERE", tmp_path)
    assert integration_helpers.glue_lines("x_app.py") == 2  # b = 2, PAGE = ''' (then the template's end marker)
