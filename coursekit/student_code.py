"""Import a student's model.py by its path, and blame errors raised inside it on its lines."""

import importlib.util
import itertools
import traceback
from pathlib import Path

from .errors import KitError
from .i18n import say

_counter = itertools.count()
LOADED_FILES = set()  # every model.py imported so far (resolved paths): an exit() raised in one is the student's


def load_model_module(path):
    """Import the model.py at `path` as a fresh module (two trees can be loaded side by side)."""
    path = Path(path).resolve()
    spec = importlib.util.spec_from_file_location(f"student_model_{next(_counter)}", path)
    module = importlib.util.module_from_spec(spec)
    LOADED_FILES.add(path)
    try:
        spec.loader.exec_module(module)
    except SyntaxError as exc:
        line = (exc.text or "").strip()
        raise KitError(f"{path.name} has a syntax error, line {exc.lineno}: {exc.msg}\n    {line}") from None
    except (Exception, SystemExit) as exc:  # any error at import time is the student's to fix: say where it is
        raise KitError(f"{path.name} could not be imported: {explain_exception(exc, path)}") from None
    return module


def student_frames(exc, model_file):
    """The frames of exc's traceback that are lines of model_file, outermost first."""
    blame = getattr(exc, "blame", None)  # raised in a sandbox (coursekit/sandbox/): its line came as data
    if blame is not None:
        return [traceback.FrameSummary(blame.file, blame.line, blame.function, line=blame.code)]
    model_file = Path(model_file).resolve()
    return [f for f in traceback.extract_tb(exc.__traceback__) if Path(f.filename).resolve() == model_file]


def explain_exception(exc, model_file):
    """'ValueError: message (model.py, line 42, in backward: return x @ self.W.data)': the exception, and the line
    of model_file where it was raised."""
    text = f"{type(exc).__name__}: {exc}"
    if isinstance(exc, SystemExit):  # exit() or sys.exit(): say what that call does
        called = "exit()" if exc.code is None else f"exit({exc.code!r})"
        text = say(f"SystemExit: {called} was called, which ends the whole program; a layer must return or raise "
                   f"instead", f"SystemExit：调用了 {called}，它会结束整个程序；层应该返回结果或者抛出异常")
    frames = student_frames(exc, model_file)
    if frames:
        where, name = frames[-1], Path(model_file).name  # the innermost line of the student's file
        code = (where.line or "").strip()
        text += say(f" ({name}, line {where.lineno}, in {where.name}: {code})",
                    f"（{name} 第 {where.lineno} 行，{where.name} 中：{code}）")
    return text


def student_exit_message(exc):
    """For a SystemExit raised by exit() in a model.py imported here: the message naming its line; else None."""
    return next((f"{model_file.name} stopped the program: {explain_exception(exc, model_file)}"
                 for model_file in sorted(LOADED_FILES) if raised_in(exc, model_file)), None)


def raised_in(exc, model_file):
    """True when the traceback of exc passes through model_file: the student's code raised it."""
    return bool(student_frames(exc, model_file))
