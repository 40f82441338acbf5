"""The student edition, for a course that grades: the kit without the reference, the grader, or their tools.

    python tools/release.py OUT [--mirror URL] [--keep-solution]

What goes in follows rules, not a list of today's files: every file git tracks, minus
- LEFT_OUT: the reference (chapter03/solution/, and coursekit/startup.py, which makes startup/ from it), the
  grader, and what is the instructors' or the maintainers' (tools/, benchmarks/, CI, their pages);
- the test files that use the reference (they name it: SOLUTION_MODEL, the `solution` fixture, its folder);
- every Python file that imports a file left out, and every module of the packages that nothing kept imports.
The pages' pointers to solution/ and tools/ are rewritten (REWRITES), README.md is the students' (STUDENT_README),
and the edition is refused while a file of it holds a line of the reference's solution regions. It is built in a
temporary folder beside OUT, then renamed to OUT.
"""

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

REFERENCE = ["chapter03/solution/*", "coursekit/startup.py"]
LEFT_OUT = ["chapter03/grade.py", "coursekit/grading/*", "tools/*", "benchmarks/*", ".ci/*", ".github/*",
            "constraints-lowest.txt", "README.md", "INSTRUCTORS.md", "MAINTAINING.md"]
PACKAGES = ("coursekit/", "chapter03/common/")  # their modules go when nothing kept imports them
STUDENT_FILES = ("*.md", "chapter03/startup/*.py")  # what students read: rewritten, then searched for solution/
SOLUTION_REGION = re.compile(r"^\s*# BEGIN SOLUTION.*?^\s*# END SOLUTION", re.M | re.S)
HINT = re.compile(r"#( Hint:|  +\S)")  # the hint opening a region, which the startup file keeps
MIRROR_LINE = "BUILTIN_MIRRORS = [\n"  # in chapter03/common/download.py: the course's mirror goes first in it
# (pattern, replacement): the pages' and the startup tree's pointers to what the edition leaves out.
TOOLS_REWRITES = [(r" ?\(`tools/handout_examples\.py` generates them\)|（由 `tools/handout_examples\.py` 生成）", "")]
REWRITES = TOOLS_REWRITES + [
    (r"(?m)^ *python chapter03/solution/.*\n", ""),
    (r"(?m)^(When you are done, compare with the reference|写完后可以和参考答案对照).*\n(.+\n)*\n", ""),
    (r"<startup (or|或) solution>", "startup"),
    (r"Each tree has its own folder: |每个目录树有自己的文件夹：", ""),
    (r", `chapter03/solution/main\.py`\s+to `model/solution/`|，`chapter03/solution/main\.py` 写到\s*`model/solution/`",
     ""),
    (r"one folder per tree: (`model/startup/`) and `model/solution/`", r"in \1"),
    (r" chapter03/solution/model\.py is the reference\.", ""),
    (r"This file is the same in startup/ and solution/; each uses", "This file uses"),
]
STUDENT_README = """\
# 第 3 章作业：用 NumPy 写出会学习的神经网络 / Chapter 3: a neural network that learns, in NumPy

讲义 / The handout: [chapter03/README.md](chapter03/README.md)（中文），[chapter03/README.en.md](chapter03/README.en.md)
(English). 你要写的文件 / The file you write: `chapter03/startup/model.py`（请保存为 UTF-8 / save it as UTF-8）.

## 安装 / Set-up

用 uv（任何系统）/ With uv (any OS): `uv run chapter03/startup/main.py --checks_only`

或者用 pip / Or with pip:

```
python -m venv .venv
.venv\\Scripts\\activate          # Windows;  macOS / Linux: source .venv/bin/activate
python -m pip install -r requirements.txt
```

## 命令 / Commands

```
python chapter03/startup/main.py --checks_only   # 只检查你写的层 / check your layers only
python chapter03/startup/main.py                 # 检查、下载 MNIST、训练、测试 / checks, MNIST, training, test
python chapter03/startup/handwriting_canvas.py   # 手写数字，看网络认出来 / draw digits, see them recognised
python -m pytest                                 # 这套代码自己的测试 / the kit's own tests
```
{mirror}
## 卡住了 / When stuck

检查报告会说哪里不对；`--explain "Linear.backward dx"` 给出一项检查的输入、期望值和实际值；讲义最后一节是“常见问题”。
The check report says what is wrong; `--explain "Linear.backward dx"` shows one check's inputs, expected and got; the
handout ends with Troubleshooting.{reference}
"""
MIRROR_NOTE = """
下载 MNIST 时先试课程的镜像 / MNIST downloads try the course's mirror first: {urls}
"""
REFERENCE_NOTE = " 参考答案在 / The reference is in `chapter03/solution/`."


def parse_args(argv):
    parser = argparse.ArgumentParser(prog="python tools/release.py", description=__doc__.split("\n")[0])
    parser.add_argument("out", type=Path, help="the folder to write; it must not exist, or be empty")
    parser.add_argument("--mirror", action="append", default=[], metavar="URL",
                        help="the course's MNIST mirror, tried before the built-in ones (repeatable)")
    parser.add_argument("--keep-solution", "--keep_solution", action="store_true",
                        help="keep chapter03/solution/ and the tests that use it, for a course that hands it out")
    args = parser.parse_args(argv)
    if args.out.exists() and (not args.out.is_dir() or any(args.out.iterdir())):
        parser.error(f"{args.out} exists and is not an empty folder: give a new one")
    try:
        check_mirror_urls(args.mirror, "--mirror")
    except KitError as error:
        parser.error(str(error))
    return args


def tracked_files():
    """The files git tracks in the repository, that exist on disk (posix paths)."""
    try:
        listed = subprocess.run(["git", "-C", str(REPO), "ls-files", "-z"], capture_output=True, check=True).stdout
    except (OSError, subprocess.CalledProcessError) as error:
        raise KitError(f"release: cannot list the files git tracks in {REPO} ({error}): run it in a clone") from None
    return sorted(name for name in listed.decode("utf-8").split("\0") if name and (REPO / name).is_file())


def matches(name, patterns):
    return any(fnmatch.fnmatch(name, pattern) for pattern in patterns)


def module_file(module, files):
    """The file of a dotted module name among files ('coursekit.files' -> 'coursekit/files.py'), or None."""
    stem = module.replace(".", "/")
    for name in (f"{stem}.py", f"{stem}/__init__.py", f"tests/{stem}.py"):  # tests/ is on the suite's path
        if name in files:
            return name
    return None


def imported_files(name, files, top_level_only):
    """The files of `files` that the Python file `name` imports (at its top level only, or anywhere)."""
    tree = ast.parse((REPO / name).read_bytes(), name)
    package = name.rsplit("/", 1)[0].replace("/", ".")
    nodes = tree.body if top_level_only else ast.walk(tree)
    found = set()
    for node in nodes:
        if isinstance(node, ast.Import):
            modules = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = ".".join(package.split(".")[:len(package.split(".")) - node.level + 1]) if node.level else ""
            base = ".".join(part for part in (base, node.module) if part)
            modules = [base, *(f"{base}.{alias.name}" for alias in node.names)]
        else:
            continue
        for module in modules:
            parts = module.split(".")
            found |= {module_file(".".join(parts[:n]), files) for n in range(1, len(parts) + 1)}
    return found - {None}


def edition_files(keep_solution):
    """The files of the edition, by the rules of this module's docstring."""
    every = tracked_files()
    dropped = LEFT_OUT + ([] if keep_solution else REFERENCE)
    kept = {name for name in every if not matches(name, dropped)}
    if not keep_solution:
        kept -= {name for name in kept if name.startswith("tests/test_") and re.search(
            "solution", (REPO / name).read_text(encoding="utf-8"), re.I)}
    python = {name for name in every if name.endswith(".py")}
    changed = True
    while changed:  # a file importing one left out goes too, and so on
        gone = {name for name in kept & python if imported_files(name, python, True) - kept}
        kept -= gone
        changed = bool(gone)
    needed = {name for name in kept & python if is_entry(name)}
    todo = list(needed)
    while todo:  # the package modules that what is kept imports, anywhere in it
        for name in imported_files(todo.pop(), python, False) & kept - needed:
            needed.add(name)
            todo.append(name)
    return sorted(name for name in kept if not name.endswith(".py") or name in needed)


def is_entry(name):
    """A file run or collected (the trees' scripts, tests/test_*.py, conftest.py), not only imported by others."""
    return not name.startswith(PACKAGES + ("tests/",)) or re.match(r"tests/(test_.*|conftest)\.py$", name) is not None


def solution_lines():
    """The code lines of the reference's solution regions, stripped: what a file of the edition must not hold."""
    text = (REPO / "chapter03" / "solution" / "model.py").read_text(encoding="utf-8")
    lines = set()
    for region in SOLUTION_REGION.findall(text):
        body = [line.strip() for line in region.split("\n")[1:-1]]
        while body and HINT.match(body[0]):
            body.pop(0)
        lines |= {line for line in body if line}
    return lines


def leaks(folder, forbidden):
    """'path:line: text' of every line under folder that is a line of forbidden, or a solution marker."""
    found = []
    for path in sorted(folder.rglob("*")):
        try:
            lines = path.read_text(encoding="utf-8").split("\n") if path.is_file() else []
        except UnicodeDecodeError:
            continue  # a picture
        found += [f"{path.relative_to(folder).as_posix()}:{number}: {line.strip()}"
                  for number, line in enumerate(lines, 1)
                  if line.strip() in forbidden or re.match(r"\s*# (BEGIN|END) SOLUTION", line)]
    return found


def rewrite(name, text, rewrites):
    """The text of a file students read, with the pointers to what the edition leaves out rewritten."""
    for pattern, replacement in rewrites:
        text = re.sub(pattern, replacement, text)
    return text


def write_edition(folder, args):
    """Copy the edition's files into folder, rewritten; add the students' README and the course's mirror."""
    rewrites = TOOLS_REWRITES if args.keep_solution else REWRITES
    for name in edition_files(args.keep_solution):
        target = folder / name
        target.parent.mkdir(parents=True, exist_ok=True)
        if matches(name, STUDENT_FILES):
            text = rewrite(name, (REPO / name).read_text(encoding="utf-8"), rewrites)
            target.write_bytes(text.encode("utf-8"))
            if not args.keep_solution and "solution/" in text:
                raise KitError(f"release: {name} still points to solution/ after the rewrites: add one to REWRITES "
                               f"in tools/release.py (line: {text[:text.index('solution/')].count(chr(10)) + 1})")
        else:
            shutil.copy2(REPO / name, target)
    startup = folder / "chapter03" / "startup" / "model.py"
    digest = hashlib.sha256(startup.read_text(encoding="utf-8").encode("utf-8")).hexdigest()
    (startup.parent / ".model.py.sha256").write_text(f"{digest}  model.py\n", encoding="utf-8")  # as handed out
    if args.mirror:
        download = folder / "chapter03" / "common" / "download.py"
        text = download.read_text(encoding="utf-8")
        if text.count(MIRROR_LINE) != 1:
            raise KitError(f"release: cannot find {MIRROR_LINE.strip()!r} in chapter03/common/download.py: update "
                           "MIRROR_LINE in tools/release.py")
        mirrors = "".join(f"    {url!r},  # the course's own (tools/release.py --mirror)\n" for url in args.mirror)
        download.write_text(text.replace(MIRROR_LINE, MIRROR_LINE + mirrors), encoding="utf-8")
    readme = STUDENT_README.format(
        mirror=MIRROR_NOTE.format(urls=", ".join(args.mirror)) if args.mirror else "",
        reference=REFERENCE_NOTE if args.keep_solution else "")
    (folder / "README.md").write_text(readme, encoding="utf-8")


def main(argv=None):
    args = parse_args(argv)
    out = args.out.resolve()
    out.parent.mkdir(parents=True, exist_ok=True)
    folder = Path(tempfile.mkdtemp(prefix=f".{out.name}.", dir=out.parent))
    try:
        write_edition(folder, args)
        found = [] if args.keep_solution else leaks(folder, solution_lines())
        if found:
            raise KitError("release: the edition holds lines of the reference; nothing was written:\n  "
                           + "\n  ".join(found))
        if out.exists():
            out.rmdir()  # empty: checked above
        os.replace(folder, out)
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    print(f"The student edition is in {out}" + (" (with the reference)" if args.keep_solution else ""))
    return 0


if __name__ == "__main__":
    sys.exit(run_command(main))
