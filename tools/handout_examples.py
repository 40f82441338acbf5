"""Regenerate what the handouts quote from the kit, so that it cannot drift: check reports and stub messages.

In chapter03/README.md and README.en.md a quoted report sits between `<!-- report: NAME -->` and
`<!-- end report -->`. NAME is `startup` (the list, abridged, and the last lines), `solution` (the last lines), or a
mistake of tests/mutants.py or EXAMPLES below, made in solution/model.py: the explanation of the first failure (or
note) of its class. Stub messages quoted in backticks (`Task 3: ...`) become what the startup file's stubs say.

    python tools/handout_examples.py           # rewrite the quoted reports and stub messages in both handouts
    python tools/handout_examples.py --check   # write nothing; exit 1 when a handout differs from the kit
"""

import argparse
import contextlib
import difflib
import io
import itertools
import os
import re
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))  # `import coursekit` and `chapter03.common`
sys.path.insert(0, str(REPO / "tests"))  # `import mutants`: the common mistakes the checks are tested on

from coursekit.errors import KitError, run_command  # noqa: E402
from coursekit.files import shown_path, write_atomically  # noqa: E402
from mutants import MUTANTS, SIGMOID_FORWARD, mutate  # noqa: E402

CHAPTER = REPO / "chapter03"
SOLUTION = CHAPTER / "solution" / "model.py"
STARTUP = CHAPTER / "startup" / "model.py"
HANDOUTS = {CHAPTER / "README.md": "zh", CHAPTER / "README.en.md": "en"}  # each handout and its language

# Mistakes the handouts show that tests/mutants.py has no use for: (name, class the example is about, edits).
EXAMPLES = [
    ("sigmoid as 1 / (1 + exp(-x))", "Sigmoid", [(SIGMOID_FORWARD, "self.y = 1.0 / (1.0 + np.exp(-x))")]),
]

BLOCK = re.compile(r"(?P<open><!-- report: (?P<name>[^\n]*?) -->\n)(?P<body>.*?)(?P<close><!-- end report -->)",
                   re.DOTALL)
STUB_QUOTE = re.compile(r"`Task \d+: (?P<where>\w+\.\w+), see [^`\n]*?section \d+`")
STUB_MESSAGE = re.compile(r'raise NotImplementedError\("(?P<message>Task \d+: (?P<where>\w+\.\w+), see [^"]*)"\)')
SOLUTION_MARKER = re.compile(r"^[ \t]*# (BEGIN SOLUTION Task \d+|END SOLUTION)$")
LONG_EXCEPTION = re.compile(r"^(?P<head>\s+\w+: [^,]{10,}?,) .*?(?P<where> ?[(（]model\.py\b.*)$")  # ( or （ (zh)
LONG_LINE = 120  # an exception line longer than this is quoted with its message cut after the first comma


def checks_only_report(tree_dir, lang):
    """What `python <tree_dir>/main.py --checks_only --lang <lang>` prints on a UTF-8 console."""
    from chapter03.common.cli import main

    stdout, stderr = (io.TextIOWrapper(io.BytesIO(), encoding="utf-8", newline="\n") for _ in range(2))
    before = Path.cwd()
    os.chdir(REPO)  # the report names the startup file relative to the working directory
    try:
        with contextlib.redirect_stdout(stdout), contextlib.redirect_stderr(stderr):
            main(tree_dir, ["--checks_only", "--lang", lang])
    except SystemExit as exit_:
        stderr.flush()
        raise KitError(f"main.py exited with {exit_.code}:\n{stderr.buffer.getvalue().decode()}") from None
    finally:
        os.chdir(before)
    stdout.flush()
    return stdout.buffer.getvalue().decode("utf-8").rstrip("\n")


def mistake(name):
    """(class the example is about, edits) of the mistake called name."""
    for known, cls, edits in [*MUTANTS, *EXAMPLES]:
        if known == name:
            return cls, edits
    raise KitError(f"handout_examples: no mistake called {name!r} in tests/mutants.py or in EXAMPLES of "
                   f"{shown_path(Path(__file__))}.")


def report_for(name, lang):
    """The whole report `main.py --checks_only` prints for the model.py the name stands for."""
    if name in ("startup", "solution"):
        return checks_only_report(CHAPTER / name, lang)
    finished = "\n".join(line for line in SOLUTION.read_text("utf-8").split("\n") if not SOLUTION_MARKER.match(line))
    with tempfile.TemporaryDirectory() as folder:
        tree = Path(folder) / STARTUP.parent.name  # the report names the tree in commands: the student's is startup
        tree.mkdir()
        (tree / "model.py").write_text(mutate(finished, mistake(name)[1]), encoding="utf-8")
        return checks_only_report(tree, lang)


def abridged_list(lines):
    """The list of checks: the first class whole, the second class's first check, '...', the last class whole."""
    groups = []
    for line in lines:
        if line[:1].isspace() and groups:
            groups[-1].append(line)
        else:
            groups.append([line])
    if len(groups) <= 3:
        return lines
    return [*groups[0], *groups[1][:2], "  ...", *groups[-1]]


def shorten(line):
    match = LONG_EXCEPTION.match(line)
    return f"{match['head']} ...{match['where']}" if match and len(line) > LONG_LINE else line


def quoted_lines(name, report):
    """The lines of report worth quoting for the example called name."""
    blocks = [block.split("\n") for block in re.split(r"\n\s*\n", report.strip("\n"))]  # list, explanations, summary
    if name == "startup":
        return [*abridged_list(blocks[0]), "", *blocks[-1]]
    if name == "solution":
        return blocks[-1]
    cls = mistake(name)[0]
    about = [block for block in blocks[1:] if block[0].startswith(cls)]
    if not about:
        raise KitError(f"handout_examples: the report for {name!r} explains nothing about {cls}; it says:\n{report}")
    first_line, *rest = about[0]
    explanation = [first_line, *itertools.takewhile(lambda line: line[:1].isspace(), rest)]  # not the summary
    return [shorten(line) for line in explanation]


def stub_messages():
    """{'Softmax.backward': 'Task 3: Softmax.backward, see ... section 3', ...}"""
    return {match["where"]: match["message"] for match in STUB_MESSAGE.finditer(STARTUP.read_text("utf-8"))}


def regenerate(text, lang, reports):
    """text with every quoted report and stub message as the kit prints them now (reports: a cache by name)."""

    def block(match):
        name = match["name"].strip()
        if (name, lang) not in reports:
            reports[(name, lang)] = "\n".join(quoted_lines(name, report_for(name, lang)))
        return f"{match['open']}```\n{reports[(name, lang)]}\n```\n{match['close']}"

    messages = stub_messages()

    def stub(match):
        if match["where"] not in messages:
            raise KitError(f"handout_examples: the handout quotes the stub of {match['where']}, which "
                           f"{shown_path(STARTUP)} does not have.")
        return f"`{messages[match['where']]}`"

    return STUB_QUOTE.sub(stub, BLOCK.sub(block, text))


def run(check):
    reports, stale = {}, []
    for path, lang in HANDOUTS.items():
        old = path.read_text(encoding="utf-8")
        new = regenerate(old, lang, reports)
        if new == old:
            continue
        stale.append(path)
        if check:
            print("\n".join(difflib.unified_diff(old.split("\n"), new.split("\n"), f"{shown_path(path)} (now)",
                                                f"{shown_path(path)} (from the kit)", n=1, lineterm="")),
                  file=sys.stderr)
        else:
            write_atomically(path, lambda file, new=new: file.write(new.encode("utf-8")))
            print(f"rewrote the quoted reports in {shown_path(path)}")
    if check and stale:
        print(f"handout_examples: {' and '.join(shown_path(path) for path in stale)} quote(s) what the kit no longer "
              f"prints (above). Regenerate with `python tools/handout_examples.py`.", file=sys.stderr)
    elif not stale:
        print("The handouts quote what the kit prints.")
    return int(check and bool(stale))


def main(argv=None):
    parser = argparse.ArgumentParser(description="Regenerate the check reports and stub messages the handouts quote.")
    parser.add_argument("--check", action="store_true",
                        help="write nothing; exit 1 when a handout differs from what the kit prints")
    return run_command(run, parser.parse_args(argv).check)


if __name__ == "__main__":
    sys.exit(main())
