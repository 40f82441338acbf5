"""The student edition, for a course that grades: python tools/release.py OUT [--mirror URL] [--keep-solution]
The files git tracks minus LEFT_OUT (and REFERENCE), the tests naming the reference, the files importing one left out,
the modules nothing kept imports; pages rewritten (REWRITES); a line of the solution regions refuses the edition."""

import argparse
import ast
import fnmatch
import hashlib
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from chapter03.common.download import check_mirror_urls  # noqa: E402
from coursekit.errors import KitError, run_command  # noqa: E402

REFERENCE_MODEL = "chapter03/solution/model.py"
REFERENCE = ["chapter03/solution/*", "coursekit/startup.py"]  # the reference, and what makes startup/ from it
LEFT_OUT = ["chapter03/grade.py", "coursekit/grading/*", "coursekit/sandbox/*", "tools/*", "benchmarks/*", ".ci/*",
            ".github/*", "constraints-lowest.txt", "README.md", "INSTRUCTORS.md", "MAINTAINING.md"]
PACKAGES = ("coursekit/", "chapter03/common/", "tests/")  # their modules go when nothing kept imports them
STUDENT_FILES = ("*.md", "chapter03/startup/*.py")  # what students read: rewritten, then searched for solution/
MIRROR_LINE = "BUILTIN_MIRRORS = [\n"  # in chapter03/common/download.py: the course's mirror goes first in it
TOOLS_REWRITES = [(r" \(`tools/handout_examples\.py` generates them\)|（由 `tools/handout_examples\.py` 生成）", "")]
REWRITES = TOOLS_REWRITES + [  # (pattern, replacement): the pointers to solution/
    (r"(?m)^ *python chapter03/solution/.*\n", ""),
    (r"(?m)^(When you are done, compare with the reference|写完后可以和参考答案对照).*\n(.+\n)*\n", ""),
    (r"<startup (or|或) solution>", "startup"),
    (r"Each tree has its own folder: |每个目录树有自己的文件夹：", ""),
    (r", `chapter03/solution/main\.py`\s+to `model/solution/`|，`chapter03/solution/main\.py` 写到\s*`model/solution/`",
     ""),
    (r"one folder per tree: (`model/startup/`) and `model/solution/`", r"in \1"),
    (r" chapter03/solution/model\.py is the reference\.", ""),
    (r"(This file is the same|The same file) in startup/ and solution/[;:,] each us(es|ing)", "It uses"),
]
STUDENT_README = """\
# 第 3 章作业 / Chapter 3: a neural network that learns, in NumPy

讲义 / The handout: [chapter03/README.md](chapter03/README.md)（中文），[chapter03/README.en.md](chapter03/README.en.md)
(English). 你要写的文件 / Your file: `chapter03/startup/model.py`（保存为 UTF-8 / saved as UTF-8）.

安装 / Set-up: `uv run chapter03/startup/main.py --checks_only` (uv), 或者 / or:
```
python -m venv .venv
.venv\\Scripts\\activate          # Windows;  macOS / Linux: source .venv/bin/activate
python -m pip install -r requirements.txt
```
命令 / Commands:
```
python chapter03/startup/main.py --checks_only   # 只检查你写的层 / check your layers
python chapter03/startup/main.py                 # 检查、下载 MNIST、训练、测试 / checks, MNIST, training, test
python chapter03/startup/handwriting_canvas.py   # 手写数字 / draw digits, see them recognised
python -m pytest                                 # 这套代码的测试 / the kit's own tests
```
卡住了：看检查报告，`--explain "Linear.backward dx"`，讲义最后一节“常见问题”。 When stuck: the check report,
`--explain "Linear.backward dx"` (one check's inputs and expected values), the handout's Troubleshooting.{notes}
"""
MIRROR_NOTE = "\n\n下载 MNIST 时先试课程的镜像 / MNIST downloads try the course's mirror first: {}"
REFERENCE_NOTE = "\n\n参考答案 / The reference: `chapter03/solution/`."


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python tools/release.py", description=__doc__.split("\n")[0])
    parser.add_argument("out", type=Path, help="the folder to write; it must not exist, or be empty")
    parser.add_argument("--mirror", action="append", default=[], help="the course's MNIST mirror, tried first")
    parser.add_argument("--keep-solution", "--keep_solution", action="store_true", help="keep chapter03/solution/")
    args = parser.parse_args(argv)
    if args.out.exists() and (not args.out.is_dir() or any(args.out.iterdir())):
        parser.error(f"{args.out} exists and is not an empty folder: give a new one")
    try:
        check_mirror_urls(args.mirror, "--mirror")
    except KitError as error:
        parser.error(str(error))
    out = args.out.resolve()
    out.parent.mkdir(parents=True, exist_ok=True)
    folder = Path(tempfile.mkdtemp(prefix=f".{out.name}.", dir=out.parent))
    try:
        write_edition(folder, args)
        found = [] if args.keep_solution else leaks(folder)
        if found:
            raise KitError("release: the edition would hold lines of the reference:\n  " + "\n  ".join(found))
        if out.exists():
            out.rmdir()  # empty: checked above
        os.replace(folder, out)
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    print(f"The student edition is in {out}" + (" (with the reference)" if args.keep_solution else ""))
    return 0


def matches(name, patterns):  # fnmatch: * matches / too
    return any(fnmatch.fnmatch(name, pattern) for pattern in patterns)


def imported_files(name, files, top_level_only):
    """The files among `files` that the Python file `name` imports (at its top level, or anywhere), with __init__.py"""
    package, tree, found = name.rsplit("/", 1)[0].split("/"), ast.parse((REPO / name).read_bytes()), set()
    for node in tree.body if top_level_only else ast.walk(tree):
        modules = [alias.name for alias in node.names] if isinstance(node, ast.Import) else []
        if isinstance(node, ast.ImportFrom):  # relative: from the package `name` is in, level 1 being itself
            base = ".".join([*package[:len(package) + 1 - node.level], node.module or ""] if node.level else
                            [node.module]).strip(".")
            modules = [base, *(f"{base}.{alias.name}" for alias in node.names)]
        for parts in (module.split(".") for module in modules):
            for stem in ("/".join(parts[:n]) for n in range(1, len(parts) + 1)):
                found |= {f"{stem}.py", f"{stem}/__init__.py", f"tests/{stem}.py"} & files  # tests/ is on the path
    return found


def edition_files(keep_solution):
    try:
        listed = subprocess.run(["git", "-C", str(REPO), "ls-files", "-z"], capture_output=True, check=True).stdout
    except (OSError, subprocess.CalledProcessError) as error:
        raise KitError(f"release: cannot list the files git tracks in {REPO} ({error}): run it in a clone") from None
    every = {name for name in listed.decode("utf-8").split("\0") if name and (REPO / name).is_file()}  # on disk
    kept = {name for name in every if not matches(name, LEFT_OUT + ([] if keep_solution else REFERENCE))}
    # Tests naming the reference, or a file left out by a part of its path no file kept has ('REPO / ".ci" / "run"')
    parts = {part for name in every - kept for part in name.split("/")} - {p for name in kept for p in name.split("/")}
    named = re.compile("|".join([rf"[\"'/]{re.escape(part)}[\"'/]" for part in parts] + ["(?i:solution)"] * (
        not keep_solution)))
    kept -= {name for name in kept if name.startswith("tests/test_") and named.search((REPO / name).read_text("utf-8"))}
    python = {name for name in every if name.endswith(".py")}
    gone = True
    while gone:  # a file importing one left out goes too, and so on
        gone = {name for name in kept & python if imported_files(name, python, True) - kept}
        kept -= gone
    # What is run or collected (the trees' scripts, tests/test_*.py, conftest.py), and what it imports, anywhere.
    needed = {name for name in kept & python if not name.startswith(PACKAGES)
              or re.match(r"tests/(test_.*|conftest)\.py$", name)}
    todo = list(needed)
    while todo:
        for name in imported_files(todo.pop(), python, False) & kept - needed:
            needed.add(name)
            todo.append(name)
    return sorted(name for name in kept if not name.endswith(".py") or name in needed)


def leaks(folder):
    """'path:line: text' of each line under folder holding a line of the solution regions (but their hints)."""
    regions = re.findall(r"(?ms)^\s*# BEGIN SOLUTION.*?^\s*# END SOLUTION", (REPO / REFERENCE_MODEL).read_text("utf-8"))
    forbidden = {line.strip() for region in regions for line in region.split("\n")} - {""} - {
        line.strip() for line in (REPO / "chapter03" / "startup" / "model.py").read_text("utf-8").split("\n")}
    found = []
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        try:
            lines = path.read_text(encoding="utf-8").split("\n")
        except UnicodeDecodeError:
            continue  # a picture
        found += [f"{path.relative_to(folder).as_posix()}:{number}: {line.strip()}" for number, line in enumerate(
            lines, 1) if line.strip() in forbidden or re.match(r"\s*# (BEGIN|END) SOLUTION", line)
            or any(len(code) > 20 and code in line for code in forbidden)]  # quoted in a longer line
    return found


def write_edition(folder, args):
    for name in edition_files(args.keep_solution):
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        if not matches(name, STUDENT_FILES):
            shutil.copy2(REPO / name, folder / name)
            continue
        text = (REPO / name).read_text(encoding="utf-8")
        for pattern, replacement in TOOLS_REWRITES if args.keep_solution else REWRITES:
            text = re.sub(pattern, replacement, text)
        (folder / name).write_bytes(text.encode("utf-8"))
        if "solution/" in text and not args.keep_solution:
            line = text[:text.index("solution/")].count("\n") + 1
            raise KitError(f"release: {name}, line {line}, still points to solution/: add a rewrite to REWRITES")
    startup = folder / "chapter03" / "startup" / "model.py"  # its record, as make_startup writes it: as handed out
    digest = hashlib.sha256(startup.read_text(encoding="utf-8").encode("utf-8")).hexdigest()
    (startup.parent / ".model.py.sha256").write_bytes(f"{digest}  model.py\n".encode())
    download = folder / "chapter03" / "common" / "download.py"
    text = download.read_text(encoding="utf-8")
    if args.mirror and text.count(MIRROR_LINE) != 1:
        raise KitError(f"release: no {MIRROR_LINE.strip()!r} in chapter03/common/download.py: update MIRROR_LINE")
    mirrors = "".join(f"    {url!r},  # the course's own (tools/release.py --mirror)\n" for url in args.mirror)
    download.write_bytes(text.replace(MIRROR_LINE, MIRROR_LINE + mirrors).encode("utf-8"))
    notes = (MIRROR_NOTE.format(", ".join(args.mirror)) if args.mirror else "") + REFERENCE_NOTE * args.keep_solution
    (folder / "README.md").write_bytes(STUDENT_README.format(notes=notes).encode("utf-8"))


if __name__ == "__main__":
    sys.exit(run_command(main))
