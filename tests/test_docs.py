"""The documents agree with the code: handout sections named by the stubs, flags, the contract's commands."""

import re

import pytest

from conftest import CHAPTER, REPO, STARTUP_MODEL

HANDOUTS = [CHAPTER / "README.md", CHAPTER / "README.en.md"]
FLAGS = ["--hidden_dims", "--lr", "--batch_size", "--epochs", "--momentum", "--seed", "--data_dir", "--model_dir",
         "--mirror", "--checks_only", "--skip_checks", "--download_only", "--resume"]


@pytest.mark.parametrize("handout", HANDOUTS, ids=lambda path: path.name)
def test_every_section_a_stub_points_to_exists(handout):
    text = handout.read_text(encoding="utf-8")
    stub = r"Task (\d): (\w+)\.\w+, see chapter03/README.md section (\d)"
    tasks = set(re.findall(stub, STARTUP_MODEL.read_text("utf-8")))
    assert len(tasks) == 4
    for task, cls, section in tasks:
        assert task == section
        assert re.search(rf"^## {section}\. {cls}\b", text, flags=re.MULTILINE), f"no '## {section}. {cls}' heading"


@pytest.mark.parametrize("handout", HANDOUTS, ids=lambda path: path.name)
def test_the_handout_documents_every_flag(handout):
    text = handout.read_text(encoding="utf-8")
    assert [flag for flag in FLAGS if flag not in text] == []


def test_the_readme_quick_start_is_the_contracts():
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    for command in ["pip install -r requirements.txt", "python chapter03/startup/main.py [flags]",
                    "python chapter03/solution/main.py [flags]", "python chapter03/startup/handwriting_canvas.py",
                    "python -m pytest", "python tools/make_startup.py", "python chapter03/grade.py"]:
        assert command in readme


def test_math_delimiters_pair_up():
    for handout in HANDOUTS:
        for number, line in enumerate(handout.read_text(encoding="utf-8").splitlines(), 1):
            if not line.startswith("    ") and "`" not in line:
                assert line.count("$") % 2 == 0, f"{handout.name}:{number}: unpaired $"
