"""Build the Gradescope autograder zip of a chapter: setup.sh, run_autograder, and the part of the kit grading needs
(the chapter's grade.py, the modules it imports, the reference solution). Gradescope unpacks it into
/autograder/source, runs setup.sh once, then run_autograder for each submission, as root; run_autograder reads
AUTOGRADER_ROOT (default /autograder) and AUTOGRADER_PYTHON (default: setup.sh's venv), to try it elsewhere."""

import argparse
import io
import runpy
import sys
import zipfile
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from coursekit.errors import KitError  # noqa: E402
from coursekit.files import write_atomically  # noqa: E402
from coursekit.grading.results import VISIBILITIES  # noqa: E402

FIXED_TIME = (2020, 1, 1, 0, 0, 0)  # every entry's date: the same kit gives the same zip, byte for byte

SETUP = """\
#!/usr/bin/env bash
# Run once by Gradescope, as root, when it builds the autograder's image (Ubuntu 22.04 or 24.04).
set -euo pipefail

# The image's Python in a virtual environment (Ubuntu 23.04+ refuse pip into the system's, PEP 668).
export DEBIAN_FRONTEND=noninteractive
apt-get update
apt-get install -y --no-install-recommends python3 python3-venv
python3 -m venv /autograder/venv
/autograder/venv/bin/python -m pip install --no-cache-dir --disable-pip-version-check "numpy=={numpy}"

# The sandbox users run this Python; the grader makes source/, results/ and the submission private itself.
chmod o+x /autograder
chmod -R o+rX /autograder/venv
"""

RUN = """\
#!/usr/bin/env bash
# Run by Gradescope for each submission, as root: grade /autograder/submission into results/results.json.
set -uo pipefail

ROOT="${{AUTOGRADER_ROOT:-/autograder}}"
PYTHON="${{AUTOGRADER_PYTHON:-$ROOT/venv/bin/python}}"
mkdir -p "$ROOT/results"
exec "$PYTHON" "$ROOT/source/{chapter}/grade.py" "$ROOT/submission" --json "$ROOT/results/results.json" \\
    --visibility {visibility} --timeout {timeout:g} --lang {lang}
"""


def main(argv=None):
    args = parse_args(argv)
    files = kit_files(args.chapter)
    data = build(files, args)
    try:
        write_atomically(args.out, lambda file: file.write(data))
    except KitError as error:
        print(error, file=sys.stderr)
        return 1
    print(f"{args.out}: {len(files)} files of the kit, setup.sh (numpy {args.numpy}) and run_autograder.")
    return 0


def parse_args(argv):
    parser = argparse.ArgumentParser(prog="python tools/make_autograder.py",
                                     description="Build the Gradescope autograder zip of a chapter.")
    add = parser.add_argument
    add("--chapter", default="chapter03", help="the chapter's folder (default: chapter03)")
    add("--out", type=Path, default=Path("autograder.zip"), help="default: autograder.zip")
    add("--numpy", default="2.2.6", metavar="VERSION",
        help="the NumPy version setup.sh installs (default: 2.2.6: wheels for Ubuntu 22.04's and 24.04's Pythons)")
    add("--visibility", choices=VISIBILITIES, default="visible", help="when students see the tests (default: visible)")
    add("--timeout", type=float, default=60.0, metavar="S", help="seconds the checks of a class may take (default 60)")
    add("--lang", choices=("zh", "en"), default="en", help="the language of the report students read (default: en)")
    args = parser.parse_args(argv)
    if not (REPO / args.chapter / "grade.py").is_file():
        parser.error(f"{args.chapter}/grade.py does not exist")
    if not 0 < args.timeout < 3600:
        parser.error("--timeout must be between 0 and 3600 seconds")
    return args


def kit_files(chapter):
    """The repository's files grading needs: the reference solution grade.py names and the modules it imports (this
    tool imports only grading's)."""
    grade = REPO / chapter / "grade.py"
    solution = runpy.run_path(str(grade), run_name="grade")["ASSIGNMENT"].solution
    imported = {Path(module.__file__).resolve() for module in list(sys.modules.values())
                if getattr(module, "__file__", None)}
    files = imported - {Path(__file__).resolve()} | {Path(solution).resolve(), grade}  # this tool is not grading's
    return sorted(path.relative_to(REPO) for path in files if path.suffix == ".py" and REPO in path.parents)


def build(files, args):
    """The zip's bytes: setup.sh and run_autograder at the top, the kit's files at their paths."""
    entries = [("setup.sh", SETUP.format(numpy=args.numpy).encode(), 0o755),
               ("run_autograder", RUN.format(chapter=args.chapter, visibility=args.visibility,
                                             timeout=args.timeout, lang=args.lang).encode(), 0o755)]
    entries += [(path.as_posix(), (REPO / path).read_bytes(), 0o644) for path in files]
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data, mode in entries:
            info = zipfile.ZipInfo(name, FIXED_TIME)
            info.external_attr = (0o100000 | mode) << 16  # a regular file with these permissions
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, data)
    return buffer.getvalue()


if __name__ == "__main__":
    sys.exit(main())
