"""What crosses to and from the student's process: numbers, text, arrays of numbers, lists, tuples and dicts of
these, NumPy dtypes, and handles to the student's objects (proxies here). Nothing is unpickled; every node of a reply
is checked (Malformed fails that one call) and text is cut short. The student's errors and warnings become ours.
"""

import re
import warnings

import numpy as np

from .errors import Blame, DeadObjectError, StudentExit, error_class, subclass
from .wire import MAX_PAYLOAD, NUMERIC_KINDS

MAX_DEPTH = 16  # nesting of lists, tuples and dicts in a reply
MAX_ITEMS = 100_000  # values in one reply
MAX_MESSAGE = 600  # characters kept of an exception message from the student's process
DTYPE = re.compile(r"[<>|=][biufc][0-9]{1,2}")
NAME = re.compile(r"<?[A-Za-z_][A-Za-z0-9_]{0,60}>?")  # of a type or a function (<module>) of the student's


class Malformed(Exception):
    """The student's process sent something that is not a valid reply."""


def cut(text, limit=MAX_MESSAGE):
    return text if len(text) <= limit else text[:limit] + " [...]"


def type_name(name):
    """The name of a type of the student's, as reports show it: a plain identifier, or "object"."""
    return name if type(name) is str and NAME.fullmatch(name) and not name.startswith("<") else "object"


def checked_list(value, limit=MAX_ITEMS):
    if type(value) is not list or len(value) > limit:
        raise Malformed("an invalid list")
    return value


def checked_dtype(text):
    if type(text) is not str or not DTYPE.fullmatch(text):
        raise Malformed("an invalid dtype")
    try:
        dtype = np.dtype(text)
    except TypeError:
        raise Malformed("an unknown dtype") from None
    if dtype.kind not in NUMERIC_KINDS or dtype.fields:
        raise Malformed("a dtype that is not numeric")
    return dtype


def checked_array(node, buffers, tag):
    """The array (tag "array") or NumPy scalar ("scalar") that node describes, its bytes from buffers."""
    dtype = checked_dtype(node.get("dtype"))
    index = node.get("buffer")
    if not (type(index) is int and 0 <= index < len(buffers)):
        raise Malformed("an array without its data")
    shape = [1] if tag == "scalar" else checked_list(node.get("shape"), 32)
    if not all(type(n) is int and 0 <= n <= MAX_PAYLOAD for n in shape):
        raise Malformed("an invalid shape")
    if int(np.prod(shape, dtype=object)) * dtype.itemsize != len(buffers[index]):
        raise Malformed("an array whose data does not match its shape")
    array = np.frombuffer(buffers[index], dtype=dtype).reshape(shape).copy()
    return array[0] if tag == "scalar" else array


class RemoteObject:
    """An object of the student's process; its type here is named after the student's ("Linear"). Names __x__ never
    cross (NumPy probes __array_interface__ and the like: it must find nothing)."""

    __slots__ = ("_box", "_generation", "_handle", "_methods")

    def __init__(self, box, generation, handle, methods=frozenset()):
        object.__setattr__(self, "_box", box)
        object.__setattr__(self, "_generation", generation)  # of the process it lives in (None: the live one)
        object.__setattr__(self, "_handle", handle)
        object.__setattr__(self, "_methods", methods)  # of its class: a call of one is one request, not two

    def __getattr__(self, name):
        if name.startswith("__") and name.endswith("__"):
            raise AttributeError(name)
        if name in self._methods:
            return RemoteMethod(self, name)
        return self._box._request(self, "getattr", name)

    def __setattr__(self, name, value):
        self._box._request(self, "setattr", name, (value,))

    def __call__(self, *args, **kwargs):
        return self._box._request(self, "call", "", args, kwargs)

    def __iter__(self):
        return iter(self._box._request(self, "list"))

    def __repr__(self):
        return f"<{type(self).__name__} object of the student's>"


class RemoteMethod:
    """A method of the student's object, got without a request: calling it is one request (transcript.py knows it)."""

    __slots__ = ("_owner", "_name")

    def __init__(self, owner, name):
        self._owner, self._name = owner, name

    def __call__(self, *args, **kwargs):
        return self._owner._box._request(self._owner, "call", self._name, args, kwargs)


def encode(value, out, generation):
    """value as JSON for the student's process, its arrays appended to out. TypeError for what cannot cross, and
    DeadObjectError for a proxy of a process other than the live one (`generation`)."""
    if isinstance(value, RemoteObject):
        if value._generation is not None and value._generation != generation:
            raise DeadObjectError("an object of a student's process that was stopped since cannot be sent")
        return {"$": "ref", "id": value._handle}
    if isinstance(value, (np.ndarray, np.generic)) and value.dtype.kind in NUMERIC_KINDS and not value.dtype.fields:
        out.append(np.ascontiguousarray(value).tobytes())
        return {"$": "array" if isinstance(value, np.ndarray) else "scalar", "dtype": value.dtype.str,
                "shape": list(value.shape), "buffer": len(out) - 1}
    if isinstance(value, np.dtype):
        return {"$": "dtype", "dtype": value.str}
    if isinstance(value, type) and issubclass(value, np.generic):
        return {"$": "type", "dtype": np.dtype(value).str}
    if isinstance(value, np.random.Generator):  # sent as its state: a copy
        return {"$": "generator", "state": encode(value.bit_generator.state, out, generation)}
    if value is None or type(value) in (bool, int, float, str):
        return value
    if type(value) in (list, tuple):
        return {"$": type(value).__name__, "items": [encode(item, out, generation) for item in value]}
    if type(value) is dict:
        return {"$": "dict", "items": [[key, encode(item, out, generation)] for key, item in value.items()]}
    raise TypeError(f"a {type(value).__name__} cannot be sent to the student's code: only numbers, text, "
                    f"arrays of numbers, lists, tuples and dicts of these, and the student's own objects")


def decode(node, buffers, proxy):
    """The value a reply's node describes, trusting nothing; proxy(type name, handle, methods) makes the proxy of
    one of the student's objects."""
    count = [0]  # nodes decoded: one value holds at most MAX_ITEMS

    def value(node, depth):
        count[0] += 1
        if depth > MAX_DEPTH or count[0] > MAX_ITEMS:
            raise Malformed("a value nested too deep or too large")
        if node is None or type(node) in (bool, int, float):
            return node
        if type(node) is str:
            return cut(node, 2000)
        tag = node.get("$") if type(node) is dict else None
        if tag in ("array", "scalar"):
            return checked_array(node, buffers, tag)
        if tag in ("dtype", "type"):
            dtype = checked_dtype(node.get("dtype"))
            return dtype if tag == "dtype" else dtype.type
        if tag in ("list", "tuple"):
            items = [value(item, depth + 1) for item in checked_list(node.get("items"))]
            return items if tag == "list" else tuple(items)
        if tag == "dict":
            pairs = checked_list(node.get("items"))
            if not all(type(pair) is list and len(pair) == 2 and (pair[0] is None or type(pair[0]) in
                                                                  (bool, int, float, str)) for pair in pairs):
                raise Malformed("a dict with invalid keys")
            return {value(key, depth + 1): value(item, depth + 1) for key, item in pairs}
        if tag == "ref":
            handle, methods = node.get("id"), checked_list(node.get("methods"), 1000)
            if not (type(handle) is int and handle >= 0 and all(type(m) is str for m in methods)):
                raise Malformed("an invalid handle")
            return proxy(type_name(node.get("type")), handle, frozenset(methods))
        raise Malformed(f"an unknown kind of value {str(tag)[:40]!r}" if tag else f"a bare {type(node).__name__}")

    return value(node, 0)


def proxy_class(name):
    """The subclass of RemoteObject named after the student's type, so that messages name it."""
    return subclass(name, RemoteObject, __slots__=())


def student_error(info, box):
    """The exception here that stands for the student's exception that info describes."""
    if type(info) is not dict or type(info.get("message")) is not str:
        raise Malformed("an invalid error")
    builtin_names = [name for name in checked_list(info.get("builtins", [])) if type(name) is str]
    message, line, function = cut(info["message"]), info.get("line"), info.get("function")
    blame = None
    if in_file(line, box):
        function = function if type(function) is str and NAME.fullmatch(function) else "<module>"
        blame = Blame(str(box.model_file), line, function, box.lines[line - 1].strip()[:200])
    if "SystemExit" in builtin_names:
        return StudentExit(f"{box.name} called sys.exit({message})", blame)
    return error_class(type_name(info.get("type")), builtin_names)(message, blame)


def in_file(line, box):
    return type(line) is int and 1 <= line <= len(box.lines)


def warn_here(warning, box):
    """Warn here, as the student's process was warned: checks record NumPy's RuntimeWarnings and their line."""
    if type(warning) is not dict or warning.get("category") != "RuntimeWarning":
        return
    if type(warning.get("message")) is not str:
        return
    line = warning.get("line")
    warnings.warn_explicit(cut(warning["message"], 200), RuntimeWarning,
                           str(box.model_file) if in_file(line, box) else "<the student's process>",
                           line if in_file(line, box) else 0)
