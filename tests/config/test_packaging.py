"""The distribution: the sdist carries what its tests need, the wheel what the library needs, the metadata is whole."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import tarfile
import zipfile
from email.parser import Parser
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
REPOSITORY = "https://github.com/flask-sms/flask-sms-captcha"


def _tree(folder: str) -> set[str]:
    return {
        path.relative_to(ROOT).as_posix()
        for path in (ROOT / folder).rglob("*")
        if path.is_file() and "__pycache__" not in path.parts and path.suffix != ".pyc"
    }


@pytest.fixture(scope="module")
def built(tmp_path_factory) -> dict[str, Path]:
    """Build the sdist and the wheel with setuptools' own backend, as pip would."""
    out = tmp_path_factory.mktemp("dist")
    code = (
        "import sys; from setuptools import build_meta as b; out = sys.argv[1]; "  # build_meta rewrites sys.argv
        "s = b.build_sdist(out); w = b.build_wheel(out); print('BUILT', s, w)"
    )
    done = subprocess.run(
        [sys.executable, "-c", code, str(out)], cwd=ROOT, capture_output=True, text=True, timeout=300, check=False
    )
    assert done.returncode == 0, done.stderr[-2000:]
    _, sdist, wheel = next(line for line in done.stdout.splitlines() if line.startswith("BUILT ")).split()
    return {"sdist": out / sdist, "wheel": out / wheel}


def test_the_sdist_carries_the_tests_and_everything_they_need(built):
    with tarfile.open(built["sdist"]) as archive:
        names = {name.split("/", 1)[1] for name in archive.getnames() if "/" in name}
    needed = _tree("tests") | _tree("example_app") | _tree("flask_sms") | _tree("docs") | _tree("bench")
    needed |= {"LICENSE", "README.md", "CHANGES.md", "setup.cfg", "pyproject.toml", "MANIFEST.in"}
    needed |= {".ci/constraints-min.txt", ".ci/run"}
    missing = sorted(name for name in needed if name not in names and not name.startswith("tests/.hypothesis"))
    assert missing == []
    assert {"tests/conftest.py", "tests/fake_vendor.py", "tests/helpers.py", "tests/vendor_config.py"} <= names


def test_the_sdists_own_tests_of_the_files_it_carries_pass_from_the_unpacked_sdist(built, tmp_path):
    """The README says the sdist runs its own tests: the ones that read the tree (README, docs, floors) pass there."""
    with tarfile.open(built["sdist"]) as archive:
        archive.extractall(tmp_path, filter="data")
    (unpacked,) = tmp_path.iterdir()
    chosen = sorted(str(path.relative_to(unpacked)) for path in unpacked.glob("tests/**/test_packaging.py"))
    env = {**os.environ, "PYTHONPATH": str(unpacked)}
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-k", "not sdist and not wheel", *chosen],
        cwd=unpacked,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stdout[-3000:]
    assert " passed" in done.stdout and " skipped" not in done.stdout


def test_the_wheel_carries_the_package_data(built):
    with zipfile.ZipFile(built["wheel"]) as archive:
        names = set(archive.namelist())
        metadata = Parser().parsestr(archive.read(next(n for n in names if n.endswith(".dist-info/METADATA"))).decode())
    for language in ("zh_CN", "zh_TW", "en"):
        assert f"flask_sms/translations/{language}/LC_MESSAGES/flask_sms.mo" in names
    assert {"flask_sms/py.typed", "flask_sms/static/sms.js", "flask_sms/templates/flask_sms/macros.html"} <= names
    assert not any(name.startswith(("tests/", "example_app/", "bench/")) for name in names)
    assert any(name.endswith((".dist-info/licenses/LICENSE", ".dist-info/LICENSE")) for name in names)

    assert "BSD-3-Clause" in (metadata.get("License-Expression") or metadata.get("License") or "")
    urls = dict(value.split(", ", 1) for value in metadata.get_all("Project-URL"))
    assert urls["Source"] == REPOSITORY and urls["Issues"] == f"{REPOSITORY}/issues"
    requires = metadata.get_all("Requires-Dist")
    assert any(r.startswith("phonenumberslite") for r in requires)
    assert not any(re.match(r"phonenumbers\b", r) for r in requires)  # the 48 MB of geocoder data stays out
    python = metadata["Requires-Python"]
    classifiers = [
        c for c in metadata.get_all("Classifier") if re.fullmatch(r"Programming Language :: Python :: 3\.\d+", c)
    ]
    floor = int(re.search(r">=3\.(\d+)", python).group(1))
    assert classifiers and min(int(c.rsplit(".", 1)[1]) for c in classifiers) == floor


def test_readme_links_work_on_a_package_index_page():
    """PyPI shows README.md without the repository around it: relative links and in-page anchors break there."""
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    targets = re.findall(r"\]\(([^)\s]+)\)", readme)
    assert targets, "no links found: the pattern is wrong"
    relative = [target for target in targets if not target.startswith(("https://", "http://", "mailto:"))]
    assert relative == []
    ours = [target for target in targets if target.startswith(REPOSITORY)]
    for target in ours:  # links into the repository point at files that exist
        path = re.sub(rf"^{re.escape(REPOSITORY)}(/blob/main/)?", "", target).split("#")[0]
        if path:
            assert (ROOT / path).exists(), target
    image = "https://raw.githubusercontent.com/flask-sms/flask-sms-captcha/main/docs/screenshot.png"
    assert image in readme and (ROOT / "docs/screenshot.png").exists()


def _floors() -> dict[str, str]:
    """Every ``name>=version`` in setup.cfg's install_requires and test extra."""
    import configparser

    config = configparser.ConfigParser()
    config.read(ROOT / "setup.cfg", encoding="utf-8")
    lines = config["options"]["install_requires"].splitlines() + config["options.extras_require"]["test"].splitlines()
    floors = {}
    for line in lines:
        match = re.fullmatch(r"\s*([A-Za-z0-9_.-]+)\s*>=\s*([0-9][0-9A-Za-z.]*)\s*", line)
        if match:
            floors[match.group(1).lower().replace("_", "-")] = match.group(2)
    return floors


def test_the_ci_installs_exactly_the_declared_floors():
    """.ci/run runs the suite with .ci/constraints-min.txt: it must pin each setup.cfg floor, no higher, no lower."""
    pins = {}
    for line in (ROOT / ".ci" / "constraints-min.txt").read_text(encoding="utf-8").splitlines():
        if line.strip() and not line.startswith("#"):
            name, version = line.split("==")
            pins[name.strip().lower().replace("_", "-")] = version.strip()
    floors = _floors()
    assert len(floors) >= 15, floors
    mismatched = {
        name: (floor, pins.get(name))
        for name, floor in floors.items()
        if pins.get(name) is None or [int(p) for p in pins[name].split(".")] != _padded(floor, pins[name])
    }
    assert mismatched == {}, "setup.cfg floor vs .ci/constraints-min.txt pin"


def _padded(floor: str, pin: str) -> list[int]:
    """``3.5`` against a pin ``3.5.0``: the floor with zeros to the pin's length."""
    parts = [int(p) for p in floor.split(".")]
    return parts + [0] * (len(pin.split(".")) - len(parts))


def test_the_base_install_carries_no_vendor_sdk():
    """Every vendor SDK is an extra; ``import flask_sms`` and the HTTP-API providers need none of them."""
    import configparser

    config = configparser.ConfigParser()
    config.read(ROOT / "setup.cfg", encoding="utf-8")
    extras = config["options.extras_require"]
    sdks = {
        re.split(r"[<>=\s]", line.strip())[0].lower()
        for extra in ("aliyun", "tencent", "ronglian", "huawei", "baidu", "qiniu")
        for line in extras[extra].splitlines()
        if line.strip()
    }
    base = {
        re.split(r"[<>=\s]", line.strip())[0].lower() for line in config["options"]["install_requires"].splitlines()
    }
    assert sdks and not sdks & base
    blocked = [
        "aliyunsdkcore",
        "tencentcloud",
        "ronglian_sms_sdk",
        "huaweicloudsdkcore",
        "huaweicloudsdksmsapi",
        "volcengine",
        "baidubce",
        "qiniu",
    ]
    script = (
        "import sys\n"
        f"for name in {blocked!r}: sys.modules[name] = None  # as if not installed\n"
        "import flask_sms\n"
        "from flask_sms.providers import provider_class\n"
        "for name in ('ihuyi', 'volcengine', 'yunpian', 'netease', 'console'):\n"
        "    cls = provider_class(name)\n"
        "    assert cls.sdk_problem() is None, name\n"
        "for name in ('huawei', 'baidu', 'qiniu'):\n"
        "    print(provider_class(name).sdk_problem())\n"
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, cwd=ROOT, check=False)
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == [
        f"provider {name!r} needs its vendor SDK: pip install 'Flask-SMS-Captcha[{name}]'"
        for name in ("huawei", "baidu", "qiniu")
    ]
