"""Grade students' model.py files with the kit's correctness checks: points per check, one process per submission.

    python chapter03/grade.py PATH [PATH ...] [--json results.json] [--csv grades.csv] [--timeout S]

Each PATH is a student's model.py, or a folder holding one. Each submission is imported and checked in a process of
its own with a time limit, so a syntax error, an endless loop or a call to sys.exit() costs that submission only the
points of the checks it broke or kept from running, and the batch goes on. The integration check runs the student's
layers inside the reference MLP: MLP is given to students, so a student who edited it is graded on the layers alone.

Exit status: 0 whenever it could grade (whatever the scores); 1 when it could not (no PATH exists); 2 for a bad
command line. README.md (section "Grading") shows a session and how to run this as a Gradescope autograder.
"""

import argparse
import ast
import contextlib
import csv
import io
import json
import os
import signal
import subprocess
import sys
import tempfile
import types
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

CHAPTER = Path(__file__).resolve().parent
sys.path.insert(0, str(CHAPTER.parent))  # `import coursekit` and `chapter03.common`, as main.py does

from chapter03.common.checks import CHECKS  # noqa: E402
from chapter03.common.tasks import TASKS  # noqa: E402
from coursekit.errors import KitError  # noqa: E402
from coursekit.files import write_atomically  # noqa: E402
from coursekit.report import CheckResult, format_report, run_checks  # noqa: E402
from coursekit.student_code import load_model_module  # noqa: E402

SOLUTION_MODEL = CHAPTER / "solution" / "model.py"

# Points of each part of each class, shared in whole points by that part's checks; 100 in all. ReLU, the worked
# example complete in both trees, is checked but worth nothing: the untouched startup file scores 0.
POINTS = {
    "Linear": {"forward": 10, "backward": 16},
    "ReLU": {"forward": 0, "backward": 0},
    "Sigmoid": {"forward": 6, "backward": 10, "stability": 4},
    "Softmax": {"forward": 6, "backward": 10, "stability": 6},
    "CrossEntropyLoss": {"forward": 8, "backward": 10, "stability": 4},
    "MLP": {"integration": 10},
}
LAYERS = [name for name in POINTS if name != "MLP"]
WORKER = "--worker"  # argv[1] of the child process that imports and checks one submission
NOT_RUN = "not run"


@dataclass
class Check:
    """One check, as run on the reference solution, and the points it is worth."""

    name: str
    cls: str
    part: str
    points: int


@dataclass
class Run:
    """What one worker process reported before it ended or was stopped."""

    imported: bool = False
    done: list = field(default_factory=list)  # the steps that finished
    results: dict = field(default_factory=dict)  # check name -> checks.CheckResult
    stuck: str = ""  # the step that started but never finished
    problem: str = ""  # why not every step finished, in plain words


@dataclass
class Grade:
    """One submission: the results of the checks that ran, and why the others did not."""

    label: str
    results: dict = field(default_factory=dict)
    problems: list = field(default_factory=list)
    stuck: dict = field(default_factory=dict)  # class -> why its checks did not finish

    def add(self, run):
        self.results.update(run.results)
        if run.problem:
            self.problems.append(run.problem)
        if run.stuck:
            self.stuck[run.stuck] = run.problem

    def status(self, check):
        result = self.results.get(check.name)
        return result.status if result else NOT_RUN

    def score(self, check):
        return check.points if self.status(check) == "pass" else 0

    def total(self, catalogue):
        return sum(self.score(check) for check in catalogue)


# ---------------------------------------------------------------- the command line

def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == [WORKER]:
        return worker(Path(argv[1]), Path(argv[2]), argv[3:])
    args = parse_args(argv)
    if hasattr(sys.stdout, "reconfigure"):  # a student's error message may hold what a Windows console cannot print
        sys.stdout.reconfigure(errors="replace")
    if not any(Path(path).exists() for path in args.paths):
        print(f"Nothing to grade: {', '.join(args.paths)} not found.", file=sys.stderr)
        return 1
    try:
        catalogue = checks_and_points()
        grades = []
        for label in args.paths:
            grades.append(grade_submission(label, args.timeout))
            print(format_table(grades[-1], catalogue) + "\n", flush=True)
    except KitError as error:
        print(error, file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("\nInterrupted: nothing written.", file=sys.stderr)
        return 130
    if len(grades) > 1:
        print(format_summary(grades, catalogue))
    try:
        if args.json:
            write_text(args.json, json.dumps(gradescope_results(grades[0], catalogue), indent=2) + "\n")
            print(f"Gradescope results written to {args.json}")
        if args.csv:
            write_text(args.csv, grades_csv(grades, catalogue))
            print(f"Grades of {len(grades)} submission(s) written to {args.csv}")
    except KitError as error:
        print(error, file=sys.stderr)
        return 1
    return 0


def write_text(path, text):
    write_atomically(path, lambda file: file.write(text.encode("utf-8")))


def parse_args(argv):
    parser = argparse.ArgumentParser(
        prog="python chapter03/grade.py",
        description="Run the correctness checks on students' model.py files and give points, "
                    "each submission in its own process with a time limit.",
    )
    parser.add_argument("paths", nargs="+", metavar="PATH", help="a student's model.py, or a folder holding one")
    parser.add_argument("--json", type=Path, metavar="FILE",
                        help="write Gradescope's results.json for the submission (one PATH only)")
    parser.add_argument("--csv", type=Path, metavar="FILE",
                        help="write one row per submission: path, total, the points of each check")
    parser.add_argument("--timeout", type=seconds, default=60.0, metavar="S",
                        help="seconds one submission's checks may run before they are stopped (default: 60)")
    args = parser.parse_args(argv)
    if args.json and len(args.paths) > 1:
        parser.error("--json writes the results of one submission: give one PATH (use --csv for a batch)")
    return args


def seconds(text):
    try:
        value = float(text)
    except ValueError:
        value = 0.0
    if not 0 < value < float("inf"):
        raise argparse.ArgumentTypeError(f"expected a number of seconds > 0, got {text!r}")
    return value


# ---------------------------------------------------------------- points

def checks_and_points():
    """Every check, in the order the checks run, with its points: a run on the reference solution, which passes all.

    Each part's points are shared in whole points by its checks, the first ones getting the remainder.
    """
    results = run_checks(load_model_module(SOLUTION_MODEL), SOLUTION_MODEL, CHECKS, TASKS)
    failing = [result.name for result in results if result.status != "pass"]
    if failing:
        raise KitError(f"The reference solution fails {', '.join(failing)}: fix the kit before grading.")
    parts = {(result.cls, result.part) for result in results}
    unknown = sorted(part for part in parts if part[1] not in POINTS.get(part[0], {}))
    missing = sorted((cls, part) for cls in POINTS for part, points in POINTS[cls].items()
                     if points and (cls, part) not in parts)
    if unknown or missing:
        raise KitError(f"grade.py's POINTS table does not match the checks: no points for {unknown}, "
                       f"no checks for {missing}.")
    catalogue = []
    for result in results:
        group = [other for other in results if (other.cls, other.part) == (result.cls, result.part)]
        share, extra = divmod(POINTS[result.cls][result.part], len(group))
        catalogue.append(Check(result.name, result.cls, result.part, share + (group.index(result) < extra)))
    return catalogue


# ---------------------------------------------------------------- one submission, in child processes

def grade_submission(label, timeout):
    """Grade the submission at `label` (a model.py or a folder holding one)."""
    grade = Grade(label)
    model_file, problem = find_model_file(Path(label))
    if model_file is None:
        grade.problems.append(problem)
        return grade
    # The worker checks one class per step. When a step hangs or ends the process, a new worker takes over with
    # the classes not checked yet: only the class at fault (and the MLP built from it) loses its points.
    pending = list(POINTS)
    while pending:
        run = run_worker(model_file, pending, timeout)
        grade.add(run)
        if not run.stuck:
            break
        pending = [step for step in pending if step not in run.done and step != run.stuck]
    return grade


def find_model_file(path):
    """(the model.py to grade, None) or (None, why there is none)."""
    if path.is_file():
        return path, ""
    if not path.is_dir():
        return None, f"{path} does not exist"
    if (path / "model.py").is_file():
        return path / "model.py", ""
    found = sorted(path.rglob("model.py"))  # e.g. an upload that kept its folders
    if len(found) == 1:
        return found[0], ""
    if not found:
        return None, f"no model.py in {path}"
    return None, f"{len(found)} files named model.py in {path}: {', '.join(map(str, found))}"


def run_worker(model_file, steps, timeout):
    """Import and check model_file in a new process that gets `timeout` seconds; returns what it reported."""
    with tempfile.TemporaryDirectory(prefix="grade-") as folder:
        channel, stderr_file = Path(folder) / "events.jsonl", Path(folder) / "stderr.txt"
        command = [sys.executable, "-B", str(Path(__file__).resolve()), WORKER, str(model_file.resolve()),
                   str(channel), *steps]
        # What the student's code prints goes nowhere (stdout) or to a file (stderr): a flood cannot block a pipe.
        # The folder is the working directory, so files the code writes are deleted with it.
        with open(stderr_file, "wb") as stderr:
            process = subprocess.Popen(command, cwd=folder, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                       stderr=stderr, start_new_session=True)
            try:
                returncode = process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                returncode = None
            finally:  # also on Ctrl-C: in a session of its own, the worker would not get it
                if process.poll() is None:
                    kill(process)
        return read_run(channel, steps, returncode, timeout, last_line(stderr_file))


def kill(process):
    """Stop the worker and, on POSIX, every process it started (its process group)."""
    if os.name == "posix":
        with contextlib.suppress(ProcessLookupError):  # it may have ended in the meantime
            os.killpg(process.pid, signal.SIGKILL)
    else:
        process.kill()
    process.wait()


def read_run(channel, steps, returncode, timeout, stderr_line):
    """Turn the worker's events (and how it ended: returncode None when stopped) into a Run."""
    run, started = Run(), ""
    for event in read_events(channel):
        if event["event"] == "imported":
            run.imported = True
        elif event["event"] == "import_error":
            run.problem = event["message"]
        elif event["event"] == "start":
            started = event["step"]
        elif event["event"] == "done":
            run.done.append(event["step"])
            run.results.update({result["name"]: CheckResult(**result) for result in event["results"]})
    if run.problem or len(run.done) == len(steps):
        return run
    run.stuck = started if run.imported else ""
    if not run.imported:
        where = "while importing model.py"
    else:
        where = f"during the {started} checks"
    if returncode is None:
        run.problem = f"stopped after {timeout:g} s {where} (an endless loop?)"
    else:
        run.problem = (f"the process ended with exit status {returncode} {where} "
                       f"(does model.py call sys.exit(), exit() or os._exit()?)")
        if stderr_line:
            run.problem += f"; last line on stderr: {stderr_line}"
    return run


def read_events(channel):
    """The JSON lines the worker wrote; a last line cut short by a kill is skipped."""
    if not channel.is_file():
        return []
    events = []
    for line in channel.read_text(encoding="utf-8").splitlines():
        with contextlib.suppress(json.JSONDecodeError):
            events.append(json.loads(line))
    return events


def last_line(path, size=4000):
    """The last non-blank line of a text file, reading only its end (a student's code may have printed a lot)."""
    with open(path, "rb") as file:
        file.seek(max(0, path.stat().st_size - size))
        lines = file.read().decode("utf-8", errors="replace").strip().splitlines()
    return lines[-1].strip()[:300] if lines else ""


# ---------------------------------------------------------------- the worker process

def worker(model_file, channel, steps):
    """In the child process: import the submission, then run the checks of each class in `steps`, reporting
    on `channel`.

    Each event is one JSON line appended to the file `channel`, never to stdout: what the student's code prints
    cannot garble it, and the events written before a hang or an exit survive it.
    """

    def report(event, **fields):
        with open(channel, "a", encoding="utf-8") as out:
            out.write(json.dumps({"event": event, **fields}) + "\n")

    reference = load_model_module(SOLUTION_MODEL)
    try:
        module = load_model_module(model_file)
    except KitError as error:  # a syntax error, or an error raised at import time
        report("import_error", message=str(error))
        return 0
    use_reference_mlp(module)
    report("imported")
    for step in steps:
        report("start", step=step)
        results = run_checks(module_for_step(step, module, reference), model_file, CHECKS, TASKS)
        report("done", step=step, results=[asdict(result) for result in results if result.cls == step])
    return 0


def use_reference_mlp(module):
    """Set module.MLP to the reference MLP class, built from the module's own layers.

    The class's code, taken from solution/model.py, is executed in a copy of the module's namespace: the names
    Linear, Sigmoid and Softmax inside it are then the submission's.
    """
    source = SOLUTION_MODEL.read_text(encoding="utf-8")
    mlp = next(node for node in ast.parse(source).body if isinstance(node, ast.ClassDef) and node.name == "MLP")
    namespace = {**vars(module), "np": np}
    exec(compile(ast.Module(body=[mlp], type_ignores=[]), str(SOLUTION_MODEL), "exec"), namespace)
    module.MLP = namespace["MLP"]


def module_for_step(step, module, reference):
    """What the checks of class `step` run on: for MLP the submission, for a layer a copy of it in which every other
    layer is the reference's, so that another class's endless loop cannot stop this one's checks."""
    if step == "MLP":
        return module
    view = types.ModuleType(module.__name__)
    vars(view).update(vars(module))
    for name in LAYERS:
        if name != step:
            setattr(view, name, getattr(reference, name))
    use_reference_mlp(view)
    return view


# ---------------------------------------------------------------- reports

def format_table(grade, catalogue):
    """The submission's checks with points and status, then the total and any problem."""
    full = sum(check.points for check in catalogue)
    if not grade.results:  # nothing ran: the reason is all there is to say
        return "\n".join([f"== {grade.label}", f"  total 0/{full}", *(f"  ! {problem}" for problem in grade.problems)])
    width = max(len(check.name) for check in catalogue)
    lines = [f"== {grade.label}", f"  {'check':<{width}}  points  status"]
    for check in catalogue:
        result = grade.results.get(check.name)
        why = f"  {result.detail.splitlines()[0]}" if result and result.status == "FAIL" and result.detail else ""
        lines.append(f"  {check.name:<{width}}  {grade.score(check):>3}/{check.points:<3} {grade.status(check)}{why}")
    lines.append(f"  {'total':<{width}}  {grade.total(catalogue):>3}/{full}")
    lines += [f"  ! {problem}" for problem in grade.problems]
    return "\n".join(lines)


def format_summary(grades, catalogue):
    """One line per submission: total, path, and the first problem if any."""
    lines = [f"Summary of {len(grades)} submissions:"]
    full = sum(check.points for check in catalogue)
    for grade in grades:
        note = f"  ({one_line(grade.problems[0])})" if grade.problems else ""
        lines.append(f"  {grade.total(catalogue):>3}/{full}  {grade.label}{note}")
    return "\n".join(lines)


def gradescope_results(grade, catalogue):
    """Gradescope's results.json: the score, the student's check report, one test per check."""
    tests = []
    for check in catalogue:
        result = grade.results.get(check.name)
        if result:
            output = "\n".join(text for text in (result.status, result.detail, result.hint) if text)
        else:
            output = f"{NOT_RUN}: {grade.stuck.get(check.cls) or '; '.join(grade.problems)}"
        name = check.name if check.cls in check.name else f"{check.cls}: {check.name}"
        tests.append({"name": name, "score": grade.score(check), "max_score": check.points, "output": output,
                      "visibility": "visible"})
    report = format_report(list(grade.results.values()), TASKS, encoding="utf-8") if grade.results else ""
    output = "\n".join([*(f"! {problem}" for problem in grade.problems), report]).strip()
    return {"score": sum(test["score"] for test in tests), "output": output, "tests": tests}


def grades_csv(grades, catalogue):
    """One row per submission: path, total, the points of each check, and the problems."""
    text = io.StringIO()
    writer = csv.writer(text)
    writer.writerow(["path", "total", *(check.name for check in catalogue), "problems"])
    for grade in grades:
        writer.writerow([grade.label, grade.total(catalogue), *(grade.score(check) for check in catalogue),
                         "; ".join(map(one_line, grade.problems))])
    return text.getvalue()


def one_line(text):
    return " ".join(text.split())


if __name__ == "__main__":
    sys.exit(main())
