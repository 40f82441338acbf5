"""tools/make_autograder.py: the Gradescope zip, built from scratch and tried in a local /autograder-like layout.

Gradescope unpacks the zip into /autograder/source, runs setup.sh once (apt, a virtual environment, NumPy), copies
run_autograder to /autograder/run_autograder and runs it for each submission, as root, with the student's files in
/autograder/submission; it reads /autograder/results/results.json. Here the layout is a temporary folder
(AUTOGRADER_ROOT), setup.sh is only checked (it needs apt and the network), and run_autograder uses this Python
(AUTOGRADER_PYTHON).
"""

import json
import os
import shutil
import subprocess
import sys
import time
import zipfile

import pytest
from submissions import SOLUTION, STARTUP, partial, solution_lines
from test_grade_cheats import CHEATS

from conftest import REPO

MAKE = REPO / "tools" / "make_autograder.py"


def make(out, *args):
    return subprocess.run([sys.executable, str(MAKE), "--out", str(out), *args], capture_output=True, text=True,
                          timeout=300)


@pytest.fixture(scope="module")
def autograder(tmp_path_factory):
    folder = tmp_path_factory.mktemp("zip")
    result = make(folder / "autograder.zip")
    assert result.returncode == 0, result.stderr
    return folder / "autograder.zip"


def run_autograder(zip_path, root, model_text):
    """Unpack into root/source, put model_text in root/submission, run run_autograder; the results and stdout."""
    root.mkdir(mode=0o755)
    with zipfile.ZipFile(zip_path) as archive:
        archive.extractall(root / "source")
    for name in ("setup.sh", "run_autograder"):  # zipfile does not restore permissions
        (root / "source" / name).chmod(0o755)
    shutil.copy(root / "source" / "run_autograder", root / "run_autograder")
    (root / "submission").mkdir()
    (root / "submission" / "model.py").write_text(model_text, encoding="utf-8")
    env = dict(os.environ, AUTOGRADER_ROOT=str(root), AUTOGRADER_PYTHON=sys.executable)
    result = subprocess.run(["bash", str(root / "run_autograder")], capture_output=True, text=True, env=env,
                            cwd=root, timeout=600, stdin=subprocess.DEVNULL)
    assert result.returncode == 0, result.stderr
    return json.loads((root / "results" / "results.json").read_text(encoding="utf-8")), result


def test_the_zip_holds_only_what_grading_needs(autograder):
    with zipfile.ZipFile(autograder) as archive:
        names = set(archive.namelist())
        modes = {info.filename: info.external_attr >> 16 & 0o777 for info in archive.infolist()}
    assert {"setup.sh", "run_autograder", "chapter03/grade.py", "chapter03/solution/model.py",
            "chapter03/common/checks.py", "chapter03/common/tasks.py", "coursekit/sandbox/client.py",
            "coursekit/sandbox/wire.py", "coursekit/sandbox/process.py",
            "coursekit/grading/submission.py"} <= names
    assert modes["setup.sh"] == modes["run_autograder"] == 0o755
    assert not [name for name in names if name.startswith(("tests/", "chapter03/startup/", "data/", "tools/"))
                or "__pycache__" in name or name.endswith((".md", ".gz", ".npz"))]
    for module in ("canvas", "data", "train", "plots"):  # main.py's machinery: not grading's
        assert f"chapter03/common/{module}.py" not in names


def test_the_zip_is_the_same_when_built_again(autograder, tmp_path):
    assert make(tmp_path / "again.zip").returncode == 0
    assert (tmp_path / "again.zip").read_bytes() == autograder.read_bytes()


@pytest.mark.requires("bash")
def test_setup_installs_python_and_pinned_numpy_from_the_image(autograder, tmp_path):
    with zipfile.ZipFile(autograder) as archive:
        setup = archive.read("setup.sh").decode()
    assert "apt-get install -y --no-install-recommends python3 python3-venv" in setup
    assert '"numpy==2.2.6"' in setup and "/autograder/venv" in setup
    (tmp_path / "setup.sh").write_text(setup)
    assert subprocess.run(["bash", "-n", str(tmp_path / "setup.sh")]).returncode == 0


def test_options_reach_run_autograder(tmp_path):
    assert make(tmp_path / "a.zip", "--visibility", "after_published", "--timeout", "30", "--lang", "zh",
                "--numpy", "1.26.4").returncode == 0
    with zipfile.ZipFile(tmp_path / "a.zip") as archive:
        run, setup = archive.read("run_autograder").decode(), archive.read("setup.sh").decode()
    assert "--visibility after_published --timeout 30 --lang zh" in run and "numpy==1.26.4" in setup
    assert make(tmp_path / "b.zip", "--chapter", "chapter99").returncode == 2


@pytest.mark.requires("root", "sandbox", "bash")  # Gradescope runs it as root
@pytest.mark.parametrize("name", ["solution", "startup", "only_linear", "reads_the_solution", "patches_the_checker",
                                  "walks_the_stack", "tampers_with_the_kit"])
def test_gradescope_grades_each_submission_to_its_honest_score(autograder, tmp_path, name):
    text, score = {"solution": (SOLUTION, 100), "startup": (STARTUP, 0), "only_linear": (partial(1), 26),
                   **CHEATS}[name]
    results, run = run_autograder(autograder, tmp_path / "autograder", text)
    assert results["score"] == score
    assert sum(test["max_score"] for test in results["tests"]) == 100
    assert {test["status"] for test in results["tests"]} <= {"passed", "failed"}
    secrets = [line for line in solution_lines(REPO / "chapter03" / "solution" / "model.py") if len(line) > 12]
    shown = json.dumps(results) + run.stdout + run.stderr
    assert not [line for line in secrets if line in shown]


@pytest.mark.requires("root", "sandbox", "bash")  # Gradescope runs it as root
def test_results_json_cannot_be_rewritten_after_grading(autograder, tmp_path):
    results, _ = run_autograder(autograder, tmp_path / "autograder", CHEATS["rewrites_the_results_later"][0])
    written = (tmp_path / "autograder" / "results" / "results.json").read_text(encoding="utf-8")
    time.sleep(3)  # the cheat's detached process would wait 2 s
    assert (tmp_path / "autograder" / "results" / "results.json").read_text(encoding="utf-8") == written
    assert results["score"] == 0
