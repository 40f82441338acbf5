"""The set-up files agree: pyproject.toml (uv), requirements.txt (pip), constraints-lowest.txt (CI's oldest run), the
workflow's Pythons and ruff's target."""

import re

from packaging.version import Version

from conftest import REPO

try:
    import tomllib
except ImportError:  # Python < 3.11: pytest brings tomli
    import tomli as tomllib

PYPROJECT = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))


def lines_of(name):
    """The requirement lines of a requirements-style file, comments and blanks left out."""
    text = (REPO / name).read_text(encoding="utf-8")
    return [line.split("#")[0].strip() for line in text.splitlines() if line.split("#")[0].strip()]


def test_requirements_txt_lists_pyprojects_dependencies():
    assert lines_of("requirements.txt") == PYPROJECT["project"]["dependencies"]


def test_constraints_lowest_pins_every_dependency_at_its_lower_bound():
    pins = dict(line.split("==") for line in lines_of("constraints-lowest.txt"))
    for requirement in PYPROJECT["project"]["dependencies"]:
        name, bound = re.fullmatch(r"([\w-]+)(?:\[\w+\])?>=([\d.]+)", requirement).groups()
        assert name in pins and Version(pins[name]) == Version(bound), f"pin {name}=={bound}"


def test_the_supported_pythons_are_the_same_everywhere():
    assert PYPROJECT["project"]["requires-python"] == ">=3.9,<3.14"
    assert PYPROJECT["tool"]["ruff"]["target-version"] == "py39"
    assert "OLDEST=3.9 " in (REPO / ".ci" / "run").read_text(encoding="utf-8")
    workflow = (REPO / ".github" / "workflows" / "tests.yml").read_text(encoding="utf-8")
    assert 'python: ["3.9", "3.13"]' in workflow
