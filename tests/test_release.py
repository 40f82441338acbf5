"""tools/release.py: the student edition of a graded course, built once per session in a temporary folder, and used
there as a student would: its README's set-up and test command, the checks, a training from the course's mirror,
the canvas, the not-learning diagnosis without the reference; and the reference is nowhere in it.

The set-up runs the README's pip command with this interpreter (and --no-index: the packages are already here,
and tests are offline) rather than in a new virtual environment, which would take minutes.
"""

import gzip
import importlib.util
import os
import re
import shutil
import subprocess
import sys

import numpy as np
import pytest

from conftest import REPO, SHARED_MNIST, SOLUTION_MODEL, STARTUP_MODEL

sys.path.insert(0, str(REPO / "tools"))
import release  # noqa: E402

from chapter03.common import diagnose  # noqa: E402
from coursekit.student_code import load_model_module  # noqa: E402

TOOL = REPO / "tools" / "release.py"
TIMEOUT = 600
HAS_MNIST = (SHARED_MNIST / "t10k-images-idx3-ubyte.gz").is_file()
try:
    IN_A_CLONE = subprocess.run(["git", "-C", str(REPO), "ls-files", "tools/release.py"], capture_output=True,
                                text=True, timeout=60).stdout.strip() == "tools/release.py"
except OSError:  # no git
    IN_A_CLONE = False
pytestmark = pytest.mark.skipif(not IN_A_CLONE, reason="tools/release.py builds from the files git tracks, and this "
                                "copy of the kit is not a git clone (or git is missing)")
LEFT_OUT = ["chapter03/solution", "chapter03/grade.py", "coursekit/grading", "coursekit/sandbox", "coursekit/startup",
            "tools", "benchmarks", ".ci", "INSTRUCTORS.md", "MAINTAINING.md", "tests/test_grade.py", "tests/mutants.py"]


def run(args, cwd, **kwargs):
    env = {key: value for key, value in os.environ.items() if key != "MNIST_MIRROR"}
    return subprocess.run([str(arg) for arg in args], cwd=cwd, capture_output=True, text=True, encoding="utf-8",
                          timeout=TIMEOUT, stdin=subprocess.DEVNULL, env={**env, "COURSEKIT_LANG": "en"}, **kwargs)


def build(out, *flags):
    return run([sys.executable, TOOL, out, *flags], cwd=REPO.parent)


@pytest.fixture(scope="session")
def edition(tmp_path_factory):
    """The student edition as handed out, with the course's mirror: the real MNIST here, as a file:// URL."""
    out = tmp_path_factory.mktemp("release") / "kit"
    result = build(out, *(["--mirror", SHARED_MNIST.as_uri() + "/"] if HAS_MNIST else []))
    assert result.returncode == 0, result.stderr
    return out


@pytest.fixture(scope="session")
def finished(edition, tmp_path_factory):
    """A copy of the edition whose startup/model.py is finished (the reference's code, as a student wrote it)."""
    if not HAS_MNIST:
        pytest.skip(f"the real MNIST is not at {SHARED_MNIST} (only the course's machines and CI have it)")
    copy = tmp_path_factory.mktemp("finished") / "kit"
    shutil.copytree(edition, copy)
    shutil.copy(SOLUTION_MODEL, copy / "chapter03" / "startup" / "model.py")
    return copy


def solution_code_lines():
    """The lines a student writes: those of the solution regions that the startup file does not hand out."""
    regions = re.findall(r"(?ms)^\s*# BEGIN SOLUTION.*?^\s*# END SOLUTION", SOLUTION_MODEL.read_text("utf-8"))
    handed_out = {line.strip() for line in STARTUP_MODEL.read_text("utf-8").split("\n")}
    return {line.strip() for region in regions for line in region.split("\n")[1:-1]} - handed_out - {""}


def test_the_edition_holds_the_startup_tree_and_not_the_reference_the_grader_or_their_tools(edition):
    files = {path.relative_to(edition).as_posix() for path in edition.rglob("*") if path.is_file()}
    for name in ["chapter03/startup/main.py", "chapter03/startup/model.py", "chapter03/startup/handwriting_canvas.py",
                 "chapter03/README.md", "chapter03/README.en.md", "chapter03/common/diagnose.py", "coursekit/files.py",
                 "requirements.txt", "pyproject.toml", "data/README.md", "model/README.md", "tests/conftest.py"]:
        assert name in files
    assert not [name for name in files if name.startswith(tuple(LEFT_OUT))]
    code = solution_code_lines()
    assert len(code) >= 15  # the regions were found
    for path in (edition / name for name in files):
        text = path.read_text("utf-8", errors="replace")
        assert "BEGIN SOLUTION" not in text and "END SOLUTION" not in text, path
        lines = {line.strip() for line in text.split("\n")}
        assert not [code_line for code_line in code if code_line in lines or len(code_line) > 20 and code_line in text]
    for name in [name for name in files if name.endswith(".md") or name.startswith("chapter03/startup/")]:
        assert "solution/" not in (edition / name).read_text("utf-8"), name  # the pages do not point to it


def test_the_readmes_set_up_and_test_command_pass_in_the_edition(edition):
    readme = (edition / "README.md").read_text("utf-8")
    commands = [line.split("#")[0].strip() for block in re.findall(r"```\n(.*?)```", readme, re.S)
                for line in block.splitlines()]
    assert "python -m pip install -r requirements.txt" in commands and "python -m pytest" in commands
    if importlib.util.find_spec("pip"):  # `uv run pytest` has no pip: there uv did the set-up, from pyproject.toml
        setup = run([sys.executable, "-m", "pip", "install", "--no-index", "-r", "requirements.txt"], cwd=edition)
        assert setup.returncode == 0, setup.stdout[-2000:] + setup.stderr[-2000:]
    tests = run([sys.executable, "-m", "pytest", "-p", "no:cacheprovider"], cwd=edition)
    assert tests.returncode == 0, tests.stdout[-4000:] + tests.stderr[-2000:]
    assert re.search(r"\d+ passed", tests.stdout)


def test_the_checks_report_todos_in_the_edition(edition):
    result = run([sys.executable, "chapter03/startup/main.py", "--checks_only"], cwd=edition)
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert "TODO" in result.stdout and "Task 1: Linear.forward" in result.stdout


def test_a_finished_model_trains_from_the_courses_mirror_and_the_canvas_reads_a_digit(finished, tmp_path):
    assert SHARED_MNIST.as_uri() in (finished / "chapter03" / "common" / "download.py").read_text("utf-8")
    result = run([sys.executable, "chapter03/startup/main.py", "--epochs", 1, "--hidden_dims", 64], cwd=finished)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert re.fullmatch(r"Test accuracy: \d+\.\d\d%", result.stdout.strip().splitlines()[-1])
    assert (finished / "data" / "t10k-images-idx3-ubyte.gz").is_file()  # downloaded from the course's mirror
    images = np.frombuffer(gzip.decompress((SHARED_MNIST / "t10k-images-idx3-ubyte.gz").read_bytes()), np.uint8,
                           offset=16).reshape(-1, 28, 28)
    labels = np.frombuffer(gzip.decompress((SHARED_MNIST / "t10k-labels-idx1-ubyte.gz").read_bytes()), np.uint8,
                           offset=8)
    from PIL import Image

    Image.fromarray(255 - images[0]).resize((280, 280)).save(tmp_path / "digit.png")  # dark strokes on white
    canvas = run([sys.executable, "chapter03/startup/handwriting_canvas.py", "--image", tmp_path / "digit.png"],
                 cwd=finished)
    assert canvas.returncode == 0, canvas.stderr
    assert canvas.stdout.splitlines()[0] == f"prediction: {labels[0]}"


RUN_WITHOUT_A_TIME_LIMIT = """import runpy, sys
sys.path.insert(0, sys.argv[1])
from chapter03.common import diagnose
diagnose.BUDGET_SECONDS = 3600  # the same outcome on a busy machine: the trials are bounded by their steps
sys.argv = sys.argv[2:]
runpy.run_path(sys.argv[0], run_name="__main__")
"""


def test_the_not_learning_diagnosis_works_without_the_reference(finished, tmp_path):
    data_dir = tmp_path / "data"
    shutil.copytree(SHARED_MNIST, data_dir, ignore=shutil.ignore_patterns("*.txt", "*.md"))
    result = run([sys.executable, "-c", RUN_WITHOUT_A_TIME_LIMIT, finished, "chapter03/startup/main.py", "--lr",
                  10000, "--epochs", 2, "--hidden_dims", 32, "--data_dir", data_dir, "--model_dir", tmp_path / "m"],
                 cwd=finished)
    err = " ".join(result.stderr.split())
    assert result.returncode == 1 and "Traceback" not in err, result.stdout[-2000:] + result.stderr[-3000:]
    assert "Your layers pass every check: the settings are at fault" in err
    assert re.search(r"Train with --lr (1|0\.1|0\.01|0\.001) \(", err), err


def test_without_the_reference_failing_checks_are_pointed_to(tmp_path, shared_mnist):
    from chapter03.common import data
    from chapter03.common.run import Config

    text = SOLUTION_MODEL.read_text("utf-8").replace("self.W.grad = self.x.T @ grad_output",
                                                      "self.W.grad = 0 * self.x.T @ grad_output")  # W never learns
    (tmp_path / "model.py").write_text(text, encoding="utf-8")
    mnist = data.load_mnist(shared_mnist)
    report = diagnose.diagnose(load_model_module(tmp_path / "model.py"), tmp_path / "model.py", mnist,
                               Config((32,), 0.01, 0.9, 64, 1, 0), False, reference_file=tmp_path / "absent.py")
    assert "There are no reference layers here to compare with" in report
    assert "Some checks failed (you trained with --skip_checks)" in " ".join(report.split())


def test_keep_solution_keeps_the_reference_and_its_tests_not_the_grader(tmp_path):
    out = tmp_path / "open"
    assert build(out, "--keep-solution").returncode == 0
    assert (out / "chapter03" / "solution" / "model.py").read_bytes() == SOLUTION_MODEL.read_bytes()
    assert (out / "tests" / "test_train.py").is_file() and "chapter03/solution/" in (out / "README.md").read_text()
    assert not [path for path in ["chapter03/grade.py", "coursekit/grading", "coursekit/sandbox", "tools"]
                if (out / path).exists()]


def test_a_folder_in_use_or_a_bad_mirror_is_refused_and_nothing_is_written(tmp_path):
    (tmp_path / "used").mkdir()
    (tmp_path / "used" / "notes.txt").write_text("mine", encoding="utf-8")
    refused = build(tmp_path / "used")
    assert refused.returncode == 2 and "exists and is not an empty folder" in refused.stderr
    assert [path.name for path in (tmp_path / "used").iterdir()] == ["notes.txt"]
    bad = build(tmp_path / "new", "--mirror", "ftp://example.org/mnist/")
    assert bad.returncode == 2 and "ftp://example.org/mnist/" in bad.stderr and "Traceback" not in bad.stderr
    assert sorted(path.name for path in tmp_path.iterdir()) == ["used"]  # no temporary folder left beside it
    (tmp_path / "empty").mkdir()
    assert build(tmp_path / "empty").returncode == 0 and (tmp_path / "empty" / "README.md").is_file()


def test_an_edition_that_would_show_the_reference_is_refused(tmp_path, monkeypatch):
    monkeypatch.setattr(release, "REWRITES", release.TOOLS_REWRITES)  # the handout's pointers to solution/ stay
    with pytest.raises(release.KitError, match=r"chapter03/README(\.en)?\.md, line \d+, still points to solution/"):
        release.main([str(tmp_path / "out")])
    assert list(tmp_path.iterdir()) == []
    (tmp_path / "a.py").write_text('x = 1\nquoted = "self.b.grad = grad_output.sum(axis=0, keepdims=True)"\n'
                                   "        return grad_output @ self.W.data.T\n", encoding="utf-8")
    assert [found.split(":")[1] for found in release.leaks(tmp_path)] == ["2", "3"]
