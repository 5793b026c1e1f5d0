"""Sphinx configuration of flask_sms's docs (https://flask-sms-captcha.readthedocs.io/)."""

from __future__ import annotations

import sys
from importlib.metadata import version as installed_version
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE / "_ext"))

project = "flask_sms"
copyright = "flask_sms contributors"
release = installed_version("Flask-SMS-Captcha")
version = ".".join(release.split(".")[:2])

extensions = [
    "myst_parser",
    "sphinx.ext.autodoc",
    "pallets_sphinx_themes",
    "sms_options",
]
source_suffix = {".md": "markdown", ".rst": "restructuredtext"}
myst_enable_extensions = ["colon_fence", "deflist"]
myst_heading_anchors = 3
exclude_patterns = ["_build", "_generated/*"]  # the includes are read through {include}, not as pages

autodoc_member_order = "bysource"
autodoc_typehints = "description"
autodoc_default_options = {"members": True}

html_theme = "flask"
html_title = f"flask_sms {release}"
html_context = {"project_links": []}
html_sidebars = {"**": ["localtoc.html", "relations.html", "searchbox.html"]}
html_static_path = ["_static"]
html_css_files = ["sms.css"]
