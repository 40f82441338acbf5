"""--explain CHECK: one check run again and shown whole (status, explanation, seed, tolerance, expected, got, wrong
entries), then its transcript as Python a student can paste: the same inputs and calls on model.py, the comparison."""

from pathlib import Path

import numpy as np

from . import gradcheck
from .gradcheck import CheckFailed, label, show, show_mask
from .i18n import say, speaking
from .report import PASS, attempt, run_checks, unwritten_methods
from .report_text import chinese_typography, indent, status, title
from .transcript import ArrayNames, keyed_arguments


def find_check(checks, wanted):
    """(the check named wanted (any case or language), or the only one containing it, []), else (None, candidates)."""
    key = wanted.strip().lower()
    with speaking("zh"):
        names = [(check, check.name.lower(), title(check.name).lower()) for check in checks]
    exact = [check for check, en, zh in names if key in (en, zh)]
    partial = [check for check, en, zh in names if key in en or key in zh]
    return ((exact or partial)[0], []) if exact or len(partial) == 1 else (None, partial)


def explain_check(module, model_file, checks, tasks, check):
    """(the explanation of one check, True when it passes)."""
    [result] = run_checks(module, model_file, [check], tasks)  # its status, as the report gives it
    _, transcript, ended = attempt(module, model_file, check, tasks, {}, unwritten_methods(model_file), run_anyway=True)
    lines = [say(f"{check.name}: {result.status}", f"{title(check.name)}：{status(result.status)}")]
    if result.detail:
        lines.append(indent(result.detail))
    if result.blocked_by:
        lines.append(indent(say(f"It waits for {result.blocked_by}: run below anyway.",
                                f"它在等 {title(result.blocked_by)}：下面还是照样运行了它。")))
    if result.hint:
        lines.append(indent(say("Hint: ", "提示：") + result.hint))
    lines += ["", say(f"The check's inputs are drawn with seed {gradcheck.SEED}; the allowed error is "
                      f"{gradcheck.TOLERANCE:g} times the largest expected value (at least 1).",
                      f"这项检查的输入由种子 {gradcheck.SEED} 生成；允许的误差是 {gradcheck.TOLERANCE:g} 乘以期望值"
                      f"中绝对值最大的那个（至少乘以 1）。")]
    failure = ended if isinstance(ended, CheckFailed) and ended.expected is not None else None
    if failure is not None and failure.got is not None:
        expected, got = np.asarray(failure.expected, dtype=np.float64), np.asarray(failure.got, dtype=np.float64)
        lines += [show(expected, label("expected")), show(got, label("got"))]
        if got.shape == expected.shape and failure.tolerance is not None:
            errors = np.abs(got - expected)
            lines += [show_mask(errors > failure.tolerance, label("wrong")),
                      say(f"largest error {np.max(errors):.4g}, allowed {failure.tolerance:.3g}",
                          f"最大误差 {np.max(errors):.4g}，允许 {failure.tolerance:.3g}")]
    if check.replay and transcript.steps:
        prints = (say("; it prints got, expected and the wrong entries:", "；它会打印 got、expected 和出错的位置：")
                  if failure is not None and failure.tolerance is not None else say(":", "："))
        paste = say("Paste this into Python to run the check yourself",
                    "把下面的代码粘贴到 Python 里，就能自己运行这项检查")
        lines += ["", paste + prints, "", snippet(transcript, model_file, check.name, ended)]
    elif not check.replay:
        lines += ["", say("This check runs too many steps to replay as a snippet: its explanation above says "
                          "what happened.", "这项检查的步骤太多，没法写成一小段代码：上面的解释说明了发生了什么。")]
    return chinese_typography("\n".join(lines)), result.status == PASS


def literal(value):
    """Python source for value, exact: np.array([...], dtype=...) for an array, repr for a number."""
    if isinstance(value, np.ndarray):
        dtype = "" if value.dtype == np.float64 else f", dtype=np.{value.dtype.name}"
        if value.ndim == 2 and len(value) > 1:
            rows = "".join(f"    {row!r},\n" for row in value.tolist())
            return f"np.array([\n{rows}]{dtype})"
        return f"np.array({value.tolist()!r}{dtype})"
    if isinstance(value, np.generic):
        return f"np.{value.dtype.name}({value.item()!r})"
    if type(value) in (list, tuple):
        items = ", ".join(literal(item) for item in value)
        return f"[{items}]" if type(value) is list else f"({items}{',' if len(value) == 1 else ''})"
    return repr(value)


def find_step(steps, value):
    """The index of the step that gave value (the same object, else the same values), or None."""
    given = [(i, step.value) for i, step in enumerate(steps) if step.kind in ("call", "get")][::-1]
    same = [i for i, found in given if found is value]
    equal = [i for i, found in given if isinstance(found, (np.ndarray, np.generic, float, int))
             and np.shape(found) == np.shape(value) and np.array_equal(found, value)]
    return None if value is None else next(iter(same + equal), None)


def snippet(transcript, model_file, title, ended=None):
    """The check's transcript as Python a student can paste: inputs, calls, got, expected, the wrong entries."""
    failure = ended if isinstance(ended, CheckFailed) else None
    got, expected = (failure.got, failure.expected) if failure else (None, None)
    steps = transcript.steps
    got_at, expected_at = find_step(steps, got), find_step(steps, expected)
    names, inputs, body = ArrayNames(), [], []
    assigned = {expected_at: "expected = ", got_at: "got = "}  # got first when both are one step

    def value_text(value, wanted):
        if isinstance(value, np.ndarray):
            known = len(names.names)
            name = names.name(value, wanted)
            if len(names.names) > known:
                inputs.append(f"{name} = {literal(value)}")
            return name
        return literal(value)

    for i, step in enumerate(steps):
        if step.kind == "new":
            args = ", ".join([*(literal(a) for a in step.args), *(f"{k}={literal(v)}" for k, v in step.kwargs)])
            body.append(f"{step.target} = {step.name}({args})")
        elif step.kind == "set":
            wanted = step.target.split(".")[-1] if step.name == "data" and "." in step.target else step.name
            body.append(f"{step.target}.{step.name} = {value_text(step.args[0], wanted)}")
        elif step.kind == "call":
            args = [value_text(value, key) for key, value in keyed_arguments(step)]
            args += [f"{key}={value_text(value, key)}" for key, value in step.kwargs]
            method = "" if step.name == "__call__" else f".{step.name}"
            body.append(assigned.get(i, "") + f"{step.target}{method}({', '.join(args)})")
        elif step.kind == "get" and i in (got_at, expected_at):
            copy = ".copy()" if i == expected_at and isinstance(step.value, np.ndarray) else ""
            body.append(assigned[i] + f"{step.target}.{step.name}{copy}")
    if ended is not None and not isinstance(ended, CheckFailed) and body:
        body[-1] += f"  # {say('raises', '这里抛出')} {type(ended).__name__}"
    classes = ", ".join(dict.fromkeys(step.name for step in steps if step.kind == "new"))
    head = [say(f"# {title}: the check, replayed (seed {gradcheck.SEED})",
                f"# {title}：这项检查，原样重放（种子 {gradcheck.SEED}）"),
            "import sys", "", "import numpy as np", "",
            f"sys.path.insert(0, {str(Path(model_file).resolve().parent)!r})  # "
            + say("the folder of the model.py checked", "被检查的 model.py 所在的文件夹"),
            f"from model import {classes}" if classes else "", ""]
    tail = []
    if expected is not None and failure.tolerance is not None:
        if expected_at is None:
            tail.append(f"expected = {literal(np.asarray(expected))}  # "
                        + say("what the check computed, in float64", "检查程序用 float64 算出的期望值"))
        if got_at is None:
            tail.append(f"got = {literal(np.asarray(got))}  # " + say("what the check got", "检查程序得到的结果"))
        tail += [f"tolerance = {failure.tolerance!r}",
                 "wrong = np.abs(np.asarray(got, dtype=np.float64) - expected) > tolerance",
                 'print("got:", got, "expected:", expected, "wrong entries (True):", wrong, sep="\\n")']
    return "\n".join([*head, *inputs, *body, *tail])

