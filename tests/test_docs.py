"""The documents agree with the code: handout sections named by the stubs, flags, the contract's commands; the
handout's math renders on GitHub; the two languages say the same; what the handout quotes from the kit is current."""

import re
import subprocess
import sys
import unicodedata

import pytest

from chapter03.common.train import MNIST_MEAN, MNIST_STD
from conftest import CHAPTER, REPO, SOLUTION_MODEL, STARTUP_MODEL, startup_holds_work

HANDOUTS = [CHAPTER / "README.md", CHAPTER / "README.en.md"]
FLAGS = ["--hidden_dims", "--lr", "--batch_size", "--epochs", "--momentum", "--seed", "--data_dir", "--model_dir",
         "--mirror", "--checks_only", "--skip_checks", "--download_only", "--resume"]

sys.path.insert(0, str(REPO / "tools"))
import handout_examples  # noqa: E402


def read(path):
    return path.read_text(encoding="utf-8")


@pytest.mark.handed_out_startup
@pytest.mark.parametrize("handout", HANDOUTS, ids=lambda path: path.name)
def test_every_section_a_stub_points_to_exists(handout):
    text = read(handout)
    from chapter03.common.tasks import TASKS
    from coursekit.tasks import student_tasks

    stub = r"Task (\d+): (\w+)\.\w+, see chapter03/README.md section (\d+)"
    tasks = set(re.findall(stub, read(STARTUP_MODEL)))
    assert len(tasks) == len(student_tasks(TASKS))  # every task of the table has its stubs
    for task, cls, section in tasks:
        assert task == section
        assert re.search(rf"^## {section}\. {cls}\b", text, flags=re.MULTILINE), f"no '## {section}. {cls}' heading"


@pytest.mark.parametrize("handout", HANDOUTS, ids=lambda path: path.name)
def test_the_handout_documents_every_flag(handout):
    text = read(handout)
    assert [flag for flag in FLAGS if flag not in text] == []


def test_the_handout_documents_every_flag_main_py_has():
    usage = subprocess.run([sys.executable, str(CHAPTER / "solution" / "main.py"), "--help"], capture_output=True,
                           text=True, encoding="utf-8", cwd=REPO, timeout=60).stdout
    flags = set(re.findall(r"(--[a-z]+(?:_[a-z]+)*)\b(?!-)", usage)) - {"--help"}
    assert set(FLAGS) <= flags
    help_text = " ".join(usage.split())
    for handout in HANDOUTS:
        assert sorted(flag for flag in flags if f"`{flag} " not in read(handout) and f"`{flag}`" not in read(handout)) \
            == [], handout.name
        # a numeric default in the flag table is the one main.py --help gives
        for flag, default in re.findall(r"^\| `(--\w+)[^`]*` \| `([\d. ]+)` \|", read(handout), re.MULTILINE):
            assert re.search(rf"{flag}\b.*?\(default: {re.escape(default)}\b", help_text), (handout.name, flag, default)


def test_each_reader_has_a_page_and_the_students_one_is_short_and_bilingual():
    readme = read(REPO / "README.md")
    assert len(readme.splitlines()) <= 150
    first_screen = "\n".join(readme.splitlines()[:40])
    assert re.search(r"[\u4e00-\u9fff]{10}", first_screen) and len(re.findall(r"\b[A-Za-z]{3,}\b", first_screen)) > 30
    for page in ("INSTRUCTORS.md", "MAINTAINING.md"):
        assert (REPO / page).is_file() and f"({page})" in readme


def test_the_readme_quick_start_is_the_contracts():
    readme = read(REPO / "README.md")
    for command in ["pip install -r requirements.txt", "python chapter03/startup/main.py [flags]",
                    "python chapter03/solution/main.py [flags]", "python chapter03/startup/handwriting_canvas.py",
                    "python -m pytest", "python tools/make_startup.py", "python chapter03/grade.py"]:
        assert command in readme


# ---------------------------------------------------------------------------------------------------------------
# Math that renders on GitHub. GitHub's Markdown pass runs before its math renderer: it eats backslash escapes
# (`\,` shows as a comma), and an inline `$` opens math only after a space or at the start of a line.


def prose_lines(text):
    """(line number, line) outside fenced code blocks (```math blocks included: their content is literal), with inline
    code spans blanked out (same length, so positions hold)."""
    in_fence = False
    for number, line in enumerate(text.split("\n"), 1):
        if line.lstrip().startswith("```"):
            in_fence = not in_fence
            continue
        if not in_fence:
            yield number, re.sub(r"`[^`]*`", lambda code: " " * len(code.group()), line)


def display_formulas(text):
    """The body of every display formula ($$...$$ on a line of its own), in order."""
    return [line.strip()[2:-2] for _, line in prose_lines(text) if line.strip().startswith("$$")]


def inline_formulas(text):
    """(line number, line, start, end) of every inline $...$ (line[start] and line[end] are its dollars)."""
    for number, line in prose_lines(text):
        if line.strip().startswith("$$"):
            continue
        dollars = [i for i, char in enumerate(line) if char == "$"]
        for start, end in zip(dollars[::2], dollars[1::2]):
            yield number, line, start, end


def is_punctuation(char):
    return unicodedata.category(char)[0] in "PS"  # ASCII and full-width punctuation (，。：）), symbols (* |)


@pytest.mark.parametrize("handout", HANDOUTS, ids=lambda path: path.name)
def test_math_delimiters_pair_up(handout):
    for number, line in prose_lines(read(handout)):
        assert line.count("$") % 2 == 0, f"{handout.name}:{number}: unpaired $ (inline math spans one line only)"


@pytest.mark.parametrize("handout", HANDOUTS, ids=lambda path: path.name)
def test_display_math_stands_on_lines_of_its_own(handout):
    for number, line in prose_lines(read(handout)):
        if "$$" in line:
            assert line.startswith("$$") and line.endswith("$$") and line.count("$$") == 2, f"{handout.name}:{number}"


@pytest.mark.parametrize("handout", HANDOUTS, ids=lambda path: path.name)
def test_no_markdown_escape_inside_math(handout):
    """A backslash before ASCII punctuation (\\, \\; \\{ \\} \\_ \\\\ ...) is a Markdown escape: GitHub drops the
    backslash before the math renderer sees it (use \\thinspace, parentheses or a ```math block instead). `<x` reads
    as an HTML tag, and `)_` can open an emphasis that a later `x_` closes."""
    text = read(handout)
    bodies = [(number, line.strip()[2:-2]) for number, line in prose_lines(text) if line.strip().startswith("$$")]
    bodies += [(number, line[start + 1 : end]) for number, line, start, end in inline_formulas(text)]
    bad = [(number, body) for number, body in bodies if re.search(r"\\[!-/:-@\[-`{-~]", body)]
    bad += [(number, body) for number, body in bodies if re.search(r"<[A-Za-z/!?]", body)]  # read as an HTML tag
    bad += [(number, body) for number, body in bodies if re.search(r"[)\]}]_", body)]  # `)_` may open an emphasis
    assert bad == [], f"{handout.name}: Markdown would change these formulas before GitHub renders them"


@pytest.mark.parametrize("handout", HANDOUTS, ids=lambda path: path.name)
def test_inline_math_opens_and_closes_where_github_sees_it(handout):
    bad = []
    for number, line, start, end in inline_formulas(read(handout)):
        before = line[start - 1] if start > 0 else " "
        after = line[end + 1] if end + 1 < len(line) else " "
        body = line[start + 1 : end]
        opens = before.isspace() and not body[:1].isspace()
        closes = not body[-1:].isspace() and (after.isspace() or (is_punctuation(after) and after != "$"))
        if not (opens and closes):
            bad.append(f"{number}: {line[max(0, start - 8) : end + 4]!r}")
    assert bad == [], (f"{handout.name}: inline math must follow a space (or start the line) and be followed by a "
                       f"space or punctuation:\n" + "\n".join(bad))


# ---------------------------------------------------------------------------------------------------------------
# The two languages carry the same sections, formulas and examples


def headings(text):
    return [line for _, line in prose_lines(text) if line.startswith("#")]


def test_both_handouts_have_the_same_sections_formulas_and_examples():
    zh, en = (read(path) for path in HANDOUTS)
    assert [h.split()[0] for h in headings(zh)] == [h.split()[0] for h in headings(en)]  # levels, in order
    numbered = re.compile(r"^## (\d+)\. ", re.MULTILINE)
    assert numbered.findall(zh) == numbered.findall(en)
    assert display_formulas(zh) == display_formulas(en)
    examples = [[block["name"] for block in handout_examples.BLOCK.finditer(text)] for text in (zh, en)]
    assert examples[0] == examples[1]
    assert zh.count("```") == en.count("```")


# ---------------------------------------------------------------------------------------------------------------
# What the handout quotes from the kit


def startup_is_untouched():
    """True while startup/model.py is as handed out (not a student's checkout with work in it, in any encoding)."""
    return not startup_holds_work()


def test_the_quoted_reports_and_stub_messages_are_what_the_kit_prints():
    if not startup_is_untouched():
        pytest.skip("chapter03/startup/model.py holds your work: the handout quotes the file as handed out")
    result = subprocess.run([sys.executable, str(REPO / "tools" / "handout_examples.py"), "--check"],
                            capture_output=True, text=True, encoding="utf-8", cwd=REPO, timeout=300)
    assert result.returncode == 0, result.stderr


def test_the_example_tool_quotes_the_lines_that_matter():
    report = "\n".join([
        "Linear", "  ✓ pass  Linear.forward values", "  ✗ FAIL  Linear.backward dx",
        "ReLU", "  ✓ pass  ReLU.forward values", "  ✓ pass  ReLU.backward dx",
        "Sigmoid", "  ✓ pass  Sigmoid.forward values",
        "MLP", "  ✗ FAIL  MLP training lowers the loss",
        "",
        "Linear.backward dx: FAIL",
        "    ValueError: matmul: Input operand 1 has a mismatch in its core dimension 0, with gufunc signature "
        "(n?,k),(k,m?)->(n?,m?) (size 4 is different from 5) (model.py, line 60, in backward: return g @ W)",
        "    Hint: Reread chapter03/README.md section 1 (Linear).",
        "",
        "MLP training lowers the loss: FAIL",
        "    Hint: fix the other classes first.",
        "23/25 checks passed",
    ])
    assert handout_examples.quoted_lines("input gradient with W instead of W.T", report) == [
        "Linear.backward dx: FAIL",
        "    ValueError: matmul: Input operand 1 has a mismatch in its core dimension 0, ... (model.py, line 60, "
        "in backward: return g @ W)",
        "    Hint: Reread chapter03/README.md section 1 (Linear).",
    ]
    zh_line = ("    ValueError: matmul: Input operand 1 has a mismatch in its core dimension 0, with gufunc signature "
               "(n?,k),(k,m?)->(n?,m?) (size 4 is different from 5)（model.py 第 60 行，backward 中：return g @ W）")
    assert handout_examples.shorten(zh_line) == ("    ValueError: matmul: Input operand 1 has a mismatch in its core "
                                                 "dimension 0, ...（model.py 第 60 行，backward 中：return g @ W）")
    assert handout_examples.quoted_lines("solution", report) == ["MLP training lowers the loss: FAIL",
                                                                  "    Hint: fix the other classes first.",
                                                                  "23/25 checks passed"]
    assert handout_examples.quoted_lines("startup", report)[:7] == [
        "Linear", "  ✓ pass  Linear.forward values", "  ✗ FAIL  Linear.backward dx",
        "ReLU", "  ✓ pass  ReLU.forward values", "  ...", "MLP"]


@pytest.mark.handed_out_startup  # it reads the stubs of startup/model.py, which a student's work replaces
def test_the_example_tool_rewrites_only_its_blocks_and_stub_quotes():
    messages = handout_examples.stub_messages()
    if not messages:
        pytest.skip("chapter03/startup/model.py has no stub left")
    where, message = next(iter(messages.items()))
    handout = (f"Before `Task 9: {where}, see README section 9` and `{where}`.\n"
               "<!-- report: startup -->\n```\nold report\n```\n<!-- end report -->\nAfter.\n")
    new = handout_examples.regenerate(handout, "en", {("startup", "en"): "new report"})  # no kit run: given
    assert new == (f"Before `{message}` and `{where}`.\n"
                   "<!-- report: startup -->\n```\nnew report\n```\n<!-- end report -->\nAfter.\n")


FIGURES = re.compile(r"<!-- figures: MAINTAINING\.md -->\n(.*?)<!-- end figures -->", re.DOTALL)
MEASURED = re.compile(r"(\d+(?:\.\d+)?)\s*(s\b|秒|%)")


@pytest.mark.parametrize("handout", HANDOUTS, ids=lambda path: path.name)
def test_measured_figures_are_the_ones_maintaining_gives(handout):
    """Timings and accuracies are quoted between figure markers, each as MAINTAINING.md (the benchmarks' output)
    states it; outside
    them, no exact figure (a decimal number of seconds or percent) the kit could not check."""
    text, readme = read(handout), read(REPO / "MAINTAINING.md")
    regions = FIGURES.findall(text)
    assert len(regions) == 1
    quoted = [f"{number} s" if unit in ("s", "秒") else f"{number}%" for number, unit in MEASURED.findall(regions[0])]
    assert len(quoted) >= 2
    assert [figure for figure in quoted if figure not in readme] == []
    outside = FIGURES.sub("", text)
    assert re.findall(r"\d+\.\d+\s*(?:s\b|秒|%)", outside) == []


@pytest.mark.parametrize("handout", HANDOUTS, ids=lambda path: path.name)
def test_the_standardization_formula_uses_the_kits_constants(handout):
    formula = next(body for body in display_formulas(read(handout)) if "p/255" in body)
    assert formula == rf"x = \frac{{p/255 - {MNIST_MEAN}}}{{{MNIST_STD}}}"


@pytest.mark.parametrize("handout", HANDOUTS, ids=lambda path: path.name)
def test_the_quoted_relu_is_the_one_in_model_py(handout):
    quoted = re.search(r"```python\n(class ReLU\(Module\):\n.*?)```", read(handout), re.DOTALL).group(1)
    lines = iter(read(SOLUTION_MODEL).split("\n"))
    missing = [line for line in quoted.split("\n") if line.strip() and line not in lines]  # in order, as a subsequence
    assert missing == []
