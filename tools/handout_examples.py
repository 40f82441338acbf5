"""Regenerate what the handouts quote from the kit (check reports, stub messages), so that it cannot drift.
A report sits between `<!-- report: NAME -->` and `<!-- end report -->`: NAME is `startup` (the list, abridged, and
the last lines), `solution` (the last lines), or a mistake of tests/mutants.py or EXAMPLES, made in solution/model.py
(the explanation of the first failure or note of its class). `--check`: write nothing, exit 1 when a handout differs."""

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
from coursekit.startup import BEGIN, END  # noqa: E402
from mutants import MUTANTS, SIGMOID_FORWARD, mutate  # noqa: E402

CHAPTER = REPO / "chapter03"
SOLUTION = CHAPTER / "solution" / "model.py"
STARTUP = CHAPTER / "startup" / "model.py"
HANDOUTS = {CHAPTER / "README.md": "zh", CHAPTER / "README.en.md": "en"}  # each handout and its language

# Mistakes the handouts show that tests/mutants.py has no use for: (name, class the example is about, edits).
EXAMPLES = [("sigmoid as 1 / (1 + exp(-x))", "Sigmoid", [(SIGMOID_FORWARD, "self.y = 1.0 / (1.0 + np.exp(-x))")])]

BLOCK = re.compile(r"(?P<open><!-- report: (?P<name>[^\n]*?) -->\n).*?(?P<close><!-- end report -->)", re.DOTALL)
STUB_QUOTE = re.compile(r"`Task \d+: (?P<where>\w+\.\w+), see [^`\n]*?section \d+`")
STUB_MESSAGE = re.compile(r'raise NotImplementedError\("(?P<message>Task \d+: (?P<where>\w+\.\w+), see [^"]*)"\)')
LONG_EXCEPTION = re.compile(r"^(?P<head>\s+\w+: [^,]{10,}?,) .*?(?P<where> ?[(（]model\.py\b.*)$")  # ( or （ (zh)


def mistake(name):  # (class the example is about, edits)
    found = [(cls, edits) for known, cls, edits in [*MUTANTS, *EXAMPLES] if known == name]
    if not found:
        raise KitError(f"handout_examples: no mistake called {name!r} in tests/mutants.py or in EXAMPLES.")
    return found[0]


def report_for(name, lang):
    """What `python <tree>/main.py --checks_only --lang <lang>` prints on a UTF-8 console, for the name's model.py."""
    from chapter03.common.cli import main

    stdout = io.TextIOWrapper(io.BytesIO(), encoding="utf-8", newline="\n")
    with tempfile.TemporaryDirectory() as folder:
        tree = CHAPTER / name
        if name not in ("startup", "solution"):
            tree = Path(folder) / STARTUP.parent.name  # the report names the tree in commands: the student's
            tree.mkdir()
            solution = SOLUTION.read_text("utf-8").split("\n")
            finished = "\n".join(line for line in solution if not (BEGIN.match(line) or END.match(line)))
            (tree / "model.py").write_text(mutate(finished, mistake(name)[1]), encoding="utf-8")
        before = Path.cwd()
        os.chdir(REPO)  # the report names the startup file relative to the working directory
        try:
            with contextlib.redirect_stdout(stdout):
                main(tree, ["--checks_only", "--lang", lang])
        finally:
            os.chdir(before)
    stdout.flush()
    return stdout.buffer.getvalue().decode("utf-8").rstrip("\n")


def abridged_list(lines):
    """The list of checks: the first class whole, the second class's first check, '...', the last class whole."""
    starts = [i for i, line in enumerate(lines) if not line[:1].isspace()]  # the lines naming a class
    return lines if len(starts) <= 3 else [*lines[:starts[1] + 2], "  ...", *lines[starts[-1]:]]


def shorten(line):  # an exception's long message, cut after its first comma
    match = LONG_EXCEPTION.match(line)
    return f"{match['head']} ...{match['where']}" if match and len(line) > 120 else line


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
    first_line, *rest = about[0]  # then its indented lines: not the summary after them
    return [shorten(line) for line in [first_line, *itertools.takewhile(lambda line: line[:1].isspace(), rest)]]


def stub_messages():
    """{'Softmax.backward': 'Task 3: Softmax.backward, see ... section 3', ...}"""
    return {match["where"]: match["message"] for match in STUB_MESSAGE.finditer(STARTUP.read_text("utf-8"))}


def regenerate(text, lang, reports):
    """text with every quoted report and stub message as the kit prints them now (reports: a cache by name)."""

    def block(match):
        key = (match["name"].strip(), lang)
        if key not in reports:
            reports[key] = "\n".join(quoted_lines(key[0], report_for(*key)))
        return f"{match['open']}```\n{reports[key]}\n```\n{match['close']}"

    def stub(match):
        if match["where"] not in messages:
            raise KitError(f"handout_examples: the handout quotes the stub of {match['where']}, not in {STARTUP}.")
        return f"`{messages[match['where']]}`"

    messages = stub_messages()
    return STUB_QUOTE.sub(stub, BLOCK.sub(block, text))


def run(check):
    reports, stale = {}, []
    for path, lang in HANDOUTS.items():
        old = path.read_text(encoding="utf-8")
        new = regenerate(old, lang, reports)
        if new != old and check:
            stale.append(path)
            print("\n".join(difflib.unified_diff(old.split("\n"), new.split("\n"), f"{shown_path(path)} (now)",
                                                f"{shown_path(path)} (from the kit)", n=1, lineterm="")),
                  file=sys.stderr)
        elif new != old:
            stale.append(path)
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
    parser.add_argument("--check", action="store_true", help="write nothing; exit 1 when a handout differs")
    return run_command(run, parser.parse_args(argv).check)


if __name__ == "__main__":
    sys.exit(main())
