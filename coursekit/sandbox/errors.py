"""What the student's code did, as exceptions here (the StudentError family: client.py makes them from replies), and
the diagnosis of a file that cannot be imported.
"""

import collections

# Where in the student's file an error was raised; `code` is that line, which the grader reads from the file itself.
Blame = collections.namedtuple("Blame", "file line function code")


class StudentError(Exception):
    """An error of the student's code, raised in its process and reported here as data (type, message, blame)."""

    def __init__(self, message, blame=None):
        super().__init__(message)
        self.blame = blame

    def __str__(self):  # not KeyError's repr() of the message
        return self.args[0]


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
_BASES = {cls.__name__: type(cls.__name__, (StudentError, cls), {"__module__": __name__}) for cls in (
    AttributeError, TypeError, ValueError, IndexError, KeyError, LookupError, ZeroDivisionError, OverflowError,
    FloatingPointError, ArithmeticError, AssertionError, NameError, RecursionError, RuntimeError, MemoryError,
    ImportError)}
_BASES.update(NotImplementedError=StudentNotImplemented, SyntaxError=StudentSyntaxError)
_subclasses = {}  # (name, base) -> class


def subclass(name, base, **namespace):
    """A subclass of base named after a type of the student's (reports name it), made once; base itself past 1000
    names (a student's process may send any number)."""
    if (name, base) not in _subclasses and len(_subclasses) < 1000:
        _subclasses[name, base] = type(name, (base,), {"__module__": __name__, **namespace})
    return _subclasses.get((name, base), base)


def error_class(type_name, builtin_names):
    """The class of the student's exception named type_name, whose builtin bases are named: a StudentError, and the
    first of those bases found in _BASES."""
    base = next((_BASES[name] for name in builtin_names if name in _BASES), StudentError)
    return base if type_name == base.__name__ else subclass(type_name, base)


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
