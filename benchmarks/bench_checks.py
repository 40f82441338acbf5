"""How long does `main.py --checks_only` spend checking? Prints seconds; the issue asks for under 1 s of checking.

    checking     run_checks on the solution, on the startup file, and on a file with a mistake (every check runs,
                 several fail and are explained), the best of --repeat runs each, report included
    whole run    `python chapter03/solution/main.py --checks_only` in a new process: Python, NumPy and the kit
                 starting, then checking (the wall time a student waits)

    python benchmarks/bench_checks.py [--repeat 5]
"""

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))  # `import coursekit` and `chapter03.common`
sys.path.insert(0, str(REPO / "tests"))  # `import mutants`: the common mistakes

from chapter03.common.checks import CHECKS  # noqa: E402
from chapter03.common.tasks import TASKS  # noqa: E402
from coursekit.report import format_report, run_checks  # noqa: E402
from coursekit.student_code import load_model_module  # noqa: E402
from mutants import MUTANTS, mutate  # noqa: E402

SOLUTION = REPO / "chapter03" / "solution" / "model.py"
STARTUP = REPO / "chapter03" / "startup" / "model.py"
MISTAKE = "backward updates W.data with a large step"  # three checks fail and are explained, one is blocked


def checking_time(model_file, repeat):
    """The best of `repeat` runs of every check and the report on the model.py at model_file, in seconds."""
    module = load_model_module(model_file)
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        format_report(run_checks(module, model_file, CHECKS, TASKS), TASKS, encoding="utf-8")
        best = min(best, time.perf_counter() - start)
    return best


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    print(f"{len(CHECKS)} checks, best of {args.repeat}:")
    with tempfile.TemporaryDirectory() as folder:
        mistake = Path(folder) / "model.py"
        edits = next(edits for name, _, edits in MUTANTS if name == MISTAKE)
        mistake.write_text(mutate(SOLUTION.read_text(encoding="utf-8"), edits), encoding="utf-8")
        for label, path in (("solution", SOLUTION), ("startup", STARTUP), (f"'{MISTAKE}'", mistake)):
            print(f"  checking {label:<48} {checking_time(path, args.repeat):.3f} s")
    walls = []
    for _ in range(args.repeat):
        start = time.perf_counter()
        subprocess.run([sys.executable, str(SOLUTION.parent / "main.py"), "--checks_only"], check=True,
                       capture_output=True)
        walls.append(time.perf_counter() - start)
    print(f"  whole run: python chapter03/solution/main.py --checks_only   {min(walls):.3f} s (best), "
          f"{sorted(walls)[len(walls) // 2]:.3f} s (median)")


if __name__ == "__main__":
    main()
