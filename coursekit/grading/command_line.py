"""The grader's command line: grade the PATHs, print a table for each, write the CSV and results.json asked for;
what protects the grader, said (--help, and the first line of each run: what holds on this OS) and, as root, done."""

import argparse
import json
import os
import signal
import stat
import sys
from pathlib import Path

from ..errors import KitError
from ..files import write_atomically
from ..sandbox import default_limits, interpreter_problem, limits_granted, running_as_root
from . import similarity
from .assignment import points_and_seed
from .results import VISIBILITIES, format_summary, format_table, grades_csv, gradescope_results
from .submission import can_fork, find_model_file, grade_in_parallel

KIT = Path(__file__).resolve().parent.parent.parent  # the folder holding coursekit/ and the chapters
LIMIT_NAMES = {"CPU": "CPU time", "AS": "memory", "FSIZE": "file size", "NPROC": "no new process"}
GUARANTEES = (
    "On every OS, each submission runs in a process of its own that only turns the grader's inputs into outputs "
    "(the grader draws the inputs, computes the expected values and decides), with a time limit. Linux and macOS "
    "add limits on CPU time, file size and processes (and memory, where the OS grants it: not macOS), so nothing of "
    "it outlives its checks. Run as root (Docker, Gradescope), it also runs as an unprivileged user of its own: it "
    "cannot read the solution, the checks, the results or another submission, nor write outside its scratch folder "
    "or signal another process. Not as root (macOS, Windows, Linux) it runs as you: it can read and write every file "
    "you can, the solution too. Grade untrusted code as root in a container, as Gradescope does. The first line of "
    "each run says which of these hold.")


def mode_line(granted):
    """What protects the grader in this run, in one line; granted: the limits the OS lets a process lower."""
    limits = [text for name, text in LIMIT_NAMES.items() if name in granted]
    limited = f"; limits: time, {', '.join(limits)}" if limits else "; a time limit only (this OS grants no other)"
    if running_as_root():
        return f"Running as root: each submission runs as an unprivileged user of its own{limited}."
    return (f"Not running as root: each submission runs in a process of its own, as you: it can read and write your "
            f"files, the solution too{limited} (see --help).")


def protect(paths):
    """Take every permission of "other users" away from paths (files, and folders not shared like /tmp), so that the
    sandbox users cannot reach them; lines saying what changed."""
    changed = []
    for path in dict.fromkeys(paths):
        if not path.exists():
            path.mkdir(parents=True)  # an output folder: private from the start
        mode = path.stat().st_mode
        if path.is_dir() and (mode & stat.S_ISVTX or path == Path(path.anchor)):
            raise KitError(f"{path} is a folder every user shares: keep the kit in a folder of its own.")
        if mode & 0o007:
            path.chmod(mode & ~0o007)
            changed.append(f"{path} ({stat.filemode(mode)} -> {stat.filemode(mode & ~0o007)})")
    if changed:
        return [f"Made private to their owner and group, so that those users cannot read them: {', '.join(changed)}."]
    return []


def main(assignment, argv=None, prog="grade.py"):
    """Grade the PATHs of argv; the exit status (0 graded, 1 could not, 2 bad command line, 130 interrupted)."""
    args = parse_args(argv, prog)
    if not any(Path(path).exists() for path in args.paths):
        print(f"Nothing to grade: {', '.join(args.paths)} not found.", file=sys.stderr)
        return 1
    previous = signal.signal(signal.SIGTERM, signal.default_int_handler)  # a closed terminal, a stop button: Ctrl-C
    if hasattr(sys.stdout, "reconfigure"):  # a student's message may hold what a Windows console cannot print
        sys.stdout.reconfigure(errors="replace")
    try:
        return grade_all(assignment, args)
    except KitError as error:
        print(error, file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("\nInterrupted: nothing written.", file=sys.stderr)
        return 130
    finally:
        signal.signal(signal.SIGTERM, previous)


def parse_args(argv, prog):
    parser = argparse.ArgumentParser(
        prog=prog, epilog=GUARANTEES,
        description="Run the correctness checks on students' files and give points. Each submission runs in a "
                    "sandbox: a process of its own that only turns the grader's inputs into outputs.")
    add = parser.add_argument
    add("paths", nargs="+", metavar="PATH", help="a student's file, or a folder holding one")
    add("--json", type=Path, metavar="FILE", help="write Gradescope's results.json for the submission (one PATH)")
    add("--csv", type=Path, metavar="FILE",
        help="write one row per submission: student, path, total, seconds, the points of each check, problems "
             "(and the similarity columns)")
    add("--timeout", type=float, default=60.0, metavar="S",
        help="seconds the checks of one class may take before they are stopped (default: 60)")
    add("--jobs", type=int, default=1, metavar="N",
        help="grade N submissions at a time (default: 1; one at a time where there is no fork: Windows)")
    add("--visibility", choices=VISIBILITIES, default="visible",
        help="when students see the tests of results.json on Gradescope (default: visible)")
    add("--lang", choices=("zh", "en"), default="en", help="the language of the report in results.json (default: en)")
    add("--similarity", action=argparse.BooleanOptionalAction, default=None,
        help="report each submission's most similar other one and its similarity to the reference (the terminal "
             "and the CSV, never results.json); default: on with more than one PATH")
    add("--threshold", type=float, default=0.5, metavar="F",
        help="similarity from which a pair is shown line by line (default: 0.5)")
    args = parser.parse_args(argv)
    if not 0 < args.timeout <= 1e6:
        parser.error(f"--timeout: expected seconds > 0, got {args.timeout:g}")
    if not 1 <= args.jobs <= 1024:
        parser.error(f"--jobs: expected a whole number from 1 to 1024, got {args.jobs}")
    if not 0 <= args.threshold <= 1:
        parser.error(f"--threshold: expected a number from 0 to 1, got {args.threshold:g}")
    if args.json and len(args.paths) > 1:
        parser.error("--json writes the results of one submission: give one PATH (use --csv for a batch)")
    return args


def out(text=""):
    """print, surviving a closed pipe (`grade.py ... | head`): the grading and the files go on, silently."""
    try:
        print(text, flush=True)
    except BrokenPipeError:  # from now on stdout is /dev/null: later prints and Python's flush at exit do not fail
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())


def grade_all(assignment, args):
    """Grade, print, write the files asked for; the exit status."""
    problem = running_as_root() and interpreter_problem()
    if problem:
        raise KitError(problem)
    points, seed = points_and_seed(assignment)
    limits = default_limits()
    out(mode_line(limits_granted(limits) if limits else []))
    if running_as_root():  # what no student's process may read: the kit (solution, checks), submissions, results
        submissions = [find_model_file(Path(label), assignment.file_name)[0] for label in args.paths]
        outputs = [Path(path).resolve().parent for path in (args.json, args.csv) if path]
        outputs = [folder for folder in outputs  # but a folder shared like /tmp: no student's process is alive then
                   if not (folder.exists() and folder.stat().st_mode & stat.S_ISVTX)]
        for line in protect([KIT, *outputs, *(file.resolve() for file in submissions if file)]):
            out(line)
    if args.jobs > 1 and not can_fork():
        out("--jobs: this OS cannot fork the grader's workers: one submission at a time.")
    labels = list(dict.fromkeys(args.paths))
    grades = []
    for grade in grade_in_parallel(assignment, labels, args.timeout, seed, args.jobs, args.lang):
        grades.append(grade)
        out(format_table(grade, points) + "\n")
    if len(grades) > 1:
        out(format_summary(grades, points))
    similar = None
    if args.similarity or args.similarity is None and len(grades) > 1:
        similar = similarity.of_submissions(assignment, labels, args.threshold)
        out(similarity.report(similar))
    if args.json:
        results = json.dumps(gradescope_results(grades[0], points, assignment, args), indent=2) + "\n"
        write_atomically(args.json, lambda file: file.write(results.encode("utf-8")))
        out(f"Gradescope results written to {args.json}")
    if args.csv:
        table = grades_csv(grades, points, similar)
        write_atomically(args.csv, lambda file: file.write(table.encode("utf-8")))
        out(f"Grades of {len(grades)} submission(s) written to {args.csv}")
    return 0
