"""What the student's code did, as exceptions here (the StudentError family: values.py builds them from replies),
and the diagnosis of a file that cannot be imported.
"""

import threading
from dataclasses import dataclass


@dataclass(frozen=True)
class Blame:
    """Where in the student's file an error was raised. The grader reads `code` from the file itself."""

    file: str
    line: int
    function: str
    code: str


class StudentError(Exception):
    """An error of the student's code, raised in its process and reported here as data (type, message, blame)."""

    def __init__(self, message, blame=None):
        super().__init__(message)
        self.message = message
        self.blame = blame

    def __str__(self):
        return self.message


class StudentNotImplemented(StudentError, NotImplementedError):
    """A TODO not written yet."""


# A SyntaxError in the file; sys.exit() (its process goes on); a call that did not answer in time (the process was
# killed); the process ended (os._exit(), a crash, a signal); a malformed reply (killed); a proxy of a process killed
# since; a file that cannot be imported (one diagnosis for the whole file).
StudentSyntaxError, StudentExit, StudentTimeout, StudentCrash, StudentProtocolError, DeadObjectError, \
    StudentImportError = (type(name, (StudentError,), {"__module__": __name__}) for name in (
        "StudentSyntaxError", "StudentExit", "StudentTimeout", "StudentCrash", "StudentProtocolError",
        "DeadObjectError", "StudentImportError"))

# The builtin types a student's exception may stand for here; the others (OSError, StopIteration, KeyboardInterrupt,
# SystemExit...) become a plain StudentError. A StopIteration here could end a loop of the grader's silently.
STANDS_FOR = (NotImplementedError, AttributeError, TypeError, ValueError, IndexError, KeyError, LookupError,
              ZeroDivisionError, OverflowError, FloatingPointError, ArithmeticError, AssertionError, NameError,
              RecursionError, RuntimeError, MemoryError, ImportError)
_BASES = {"NotImplementedError": StudentNotImplemented, "SyntaxError": StudentSyntaxError}
_BASES.update({cls.__name__: type(cls.__name__, (StudentError, cls), {"__module__": __name__})
               for cls in STANDS_FOR if cls is not NotImplementedError})
_named_errors = {}  # (name, base) -> class: the student's own exception types, by name
_named_lock = threading.Lock()


def error_class(type_name, builtin_names):
    """The class for an exception of the student's named type_name, deriving from the builtins named: a subclass of
    StudentError and of the first builtin type listed in STANDS_FOR, named type_name (so reports name it)."""
    base = next((_BASES[name] for name in builtin_names if name in _BASES), StudentError)
    if type_name == base.__name__:
        return base
    with _named_lock:
        if (type_name, base) not in _named_errors and len(_named_errors) < 500:
            _named_errors[type_name, base] = type(type_name, (base,), {"__module__": __name__})
        return _named_errors.get((type_name, base), base)


def source_problem(name, data):
    """Why the bytes of the file `name` are no Python source at all (empty, binary), in one sentence; '' when they
    may be."""
    if not data.strip():
        return f"{name} is empty: was the right file submitted?"
    if b"\0" in data:
        return f"{name} is not a text file (it holds NUL bytes): was the right file submitted?"
    return ""


def import_diagnosis(error, name):
    """Why the student's file `name` cannot be imported, in one message, from the error importing it raised."""
    where = f", line {error.blame.line}" if error.blame else ""
    code = f"\n    {error.blame.code}" if error.blame and error.blame.code else ""
    if isinstance(error, StudentSyntaxError):
        return f"{name} has a syntax error{where}: {error}{code}"
    if isinstance(error, StudentExit):
        return f"{error}, while being imported{where}{code.replace(chr(10) + '    ', ': ')}"
    if isinstance(error, StudentTimeout):
        return f"importing {name} did not finish: {error}"
    if isinstance(error, StudentCrash):
        return f"{error}, while importing {name}"
    blame = (f" ({name}, line {error.blame.line}, in {error.blame.function}: {error.blame.code})"
             if error.blame else "")
    return f"{name} could not be imported: {type(error).__name__}: {error}{blame}"
