"""How long does a student wait for `main.py --checks_only`, against starting Python with NumPy? (issue 20: at most
1.7 times `python -c "import numpy"`, measured side by side on the same machine.)

Alternating runs, each in a new process, of:
    numpy        python -c "import numpy"
    checks       python -c "<import the checks, run them on solution/model.py, print the report>"  (what checking
                 itself needs: the checks modules import only numpy and the standard library)
    main.py      python chapter03/solution/main.py --checks_only   (the whole command)
and prints the median of each and of its ratio to numpy's in the same turn (the machine's speed drifts).

    python benchmarks/bench_checks.py [--runs 21]
"""

import argparse
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
LIMIT = 1.7
CHECKS = f"""
import sys
sys.path.insert(0, {str(REPO)!r})
from chapter03.common.checks import CHECKS
from chapter03.common.tasks import TASKS
from coursekit.report import format_report, run_checks
from coursekit.student_code import load_model_module
path = {str(REPO / "chapter03" / "solution" / "model.py")!r}
print(format_report(run_checks(load_model_module(path), path, CHECKS, TASKS), TASKS))
"""
COMMANDS = {
    "numpy": [sys.executable, "-c", "import numpy"],
    "checks": [sys.executable, "-c", CHECKS],
    "main.py --checks_only": [sys.executable, str(REPO / "chapter03" / "solution" / "main.py"), "--checks_only"],
}


# As a student's Python runs them: with the bytecode of the kit's modules cached after the first run (some machines,
# this one included, set PYTHONDONTWRITEBYTECODE, and then every run compiles the kit again: about 20 ms).
ENVIRONMENT = {name: value for name, value in os.environ.items() if name != "PYTHONDONTWRITEBYTECODE"}


def wall_time(command):
    start = time.perf_counter()
    subprocess.run(command, check=True, capture_output=True, cwd=REPO, env=ENVIRONMENT)
    return time.perf_counter() - start


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=21, help="runs of each command, alternating (default 21)")
    args = parser.parse_args()
    for command in COMMANDS.values():  # warm the caches: the first run of each reads from disk and writes bytecode
        wall_time(command)
    times = {name: [] for name in COMMANDS}
    for _ in range(args.runs):
        for name, command in COMMANDS.items():
            times[name].append(wall_time(command))
    print(f"median of {args.runs} alternating runs, each in a new process (ratio: the median of each turn's):")
    for name, values in times.items():
        ratio = statistics.median(value / numpy for value, numpy in zip(values, times["numpy"]))
        verdict = "" if name == "numpy" else f"  {ratio:.2f} x numpy" + ("  (over the limit)" if ratio > LIMIT else "")
        print(f"  {name:<24} {statistics.median(values):.3f} s{verdict}")
    print(f"limit: {LIMIT} x numpy")


if __name__ == "__main__":
    main()
