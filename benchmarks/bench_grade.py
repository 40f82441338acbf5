"""How long grading a batch takes: today's grader (serial) against this one with --jobs 2, on the same batch.

    python benchmarks/bench_grade.py [--old PATH/TO/OLD/chapter03/grade.py] [--count 20] [--jobs 2] [--rounds 3]

The batch: `count` submissions, three in four the solution and one in four the startup file (every check runs
either way). Each grader runs `rounds` times, alternating, and the best time of each is printed (other programs on
the machine only ever slow a run down). Without --old, only this grader is timed. To time the grader as it was
before a change, check that version out beside this one (git worktree add /tmp/grade-old COMMIT) and pass its
chapter03/grade.py as --old. This grader runs from a copy of the kit: as root it makes the kit's folder private.
"""

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def make_batch(folder, count, old_kit):
    """count submission folders; their files come from the kit whose grader is timed (the solution may differ)."""
    kit = Path(old_kit) if old_kit else REPO / "chapter03"
    for i in range(count):
        source = kit / ("startup" if i % 4 == 3 else "solution") / "model.py"
        (folder / f"student{i:02d}").mkdir()
        shutil.copy(source, folder / f"student{i:02d}" / "model.py")
    return sorted(str(path) for path in folder.iterdir())


def run(grade, paths, extra, csv_path):
    """(seconds, CPU seconds of the grader and every process it started) of one grader run."""
    cpu_before = children_cpu()
    started = time.perf_counter()
    result = subprocess.run([sys.executable, str(grade), *paths, "--csv", str(csv_path), *extra],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, timeout=1800)
    elapsed = time.perf_counter() - started
    if result.returncode != 0:
        raise SystemExit(f"{grade} failed (exit {result.returncode}): {result.stderr[-2000:]}")
    return elapsed, children_cpu() - cpu_before


def children_cpu():
    """CPU seconds (user and system) of the waited-for processes below this one (their own children included)."""
    import resource

    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--old", type=Path, help="the grade.py of the grader to compare with (run serially)")
    parser.add_argument("--count", type=int, default=20)
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-grade-") as scratch:
        scratch = Path(scratch)
        for part in ("coursekit", "chapter03"):
            shutil.copytree(REPO / part, scratch / "kit" / part, ignore=shutil.ignore_patterns("__pycache__"))
        grade = scratch / "kit" / "chapter03" / "grade.py"
        new_batch, old_batch = scratch / "new", scratch / "old"
        new_batch.mkdir()
        new_paths = make_batch(new_batch, args.count, None)
        old_paths = []
        if args.old:
            old_batch.mkdir()
            old_paths = make_batch(old_batch, args.count, args.old.parent)
        times = {"old": [], "new": []}
        for _ in range(args.rounds):
            if args.old:
                times["old"].append(run(args.old, old_paths, [], scratch / "old.csv"))
            times["new"].append(run(grade, new_paths, ["--jobs", str(args.jobs)], scratch / "new.csv"))
    print(f"{args.count} submissions, {os.cpu_count()} cores, best of {args.rounds} rounds "
          f"(load average before: {os.getloadavg()[0]:.1f})")
    rows = [("old grader, serial", times["old"])] if args.old else []
    rows.append((f"this grader, --jobs {args.jobs}", times["new"]))
    for name, values in rows:
        best, cpu = min(values)
        print(f"  {name + ':':<24}{best:6.2f} s  ({best / args.count:.3f} s per submission; CPU {cpu:.2f} s)")
        print(f"  {'':<24}every round: {', '.join(f'{value:.2f}' for value, _ in values)} s")


if __name__ == "__main__":
    main()
