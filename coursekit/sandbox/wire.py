"""The wire between the grader and the student's process, and the student's end of it. A message is FRAME, a JSON
header that lists its buffers' lengths, then the buffers (arrays' bytes); values are numbers, text, arrays of numbers,
lists, tuples and dicts of these, NumPy dtypes, and references to objects that stay on one side. decode checks every
node: the grader trusts nothing the student's process sends. That process runs this file's text (process.py)."""

import itertools
import json
import os
import re
import struct
import sys
import types
import warnings

FRAME = struct.Struct(">II")  # every message: the length of its JSON header, the length of the bytes after it
MAX_PAYLOAD = 64 << 20  # bytes of array data in one message
MAX_DEPTH = 16  # nesting of lists, tuples and dicts in one value
MAX_ITEMS = 100_000  # nodes in one value
MAX_TEXT = 2000  # characters kept of a string
NUMERIC_KINDS = "biufc"  # bool, signed, unsigned, float, complex: the arrays that may cross
DTYPE = re.compile(r"[<>|=][biufc][0-9]{1,2}")
MODULE_HANDLE = 0  # the handle of the student's module
MAX_WARNINGS = 10  # warnings sent back per request


class Malformed(Exception):
    """What the student's process sent is not a valid message."""


def cut(text, limit=MAX_TEXT):
    return text if len(text) <= limit else text[:limit] + " [...]"


def pack(header, buffers=()):
    buffers = [bytes(buffer) for buffer in buffers]
    head = json.dumps(dict(header, buffers=[len(b) for b in buffers]), separators=(",", ":")).encode("utf-8")
    return FRAME.pack(len(head), sum(len(b) for b in buffers)) + head + b"".join(buffers)


def split_payload(payload, lengths):
    ends = list(itertools.accumulate(lengths))
    return [payload[end - length:end] for end, length in zip(ends, lengths)]


def receive(requests):
    """The next request from the grader, on the student's end, which trusts it: (header, buffers); None at the end."""
    frame = requests.read(FRAME.size)
    if not frame:
        return None
    head_length, payload_length = FRAME.unpack(frame)
    header = json.loads(requests.read(head_length))
    return header, split_payload(requests.read(payload_length), header["buffers"])


def send(replies, header, buffers=()):
    replies.write(pack(header, buffers))
    replies.flush()


def encode(value, out, other):
    """value as JSON, its arrays' bytes appended to out; other(value) for anything else (a reference, or an error)."""
    import numpy as np

    if value is None or type(value) in (bool, int, float, str):
        return value
    if isinstance(value, (np.ndarray, np.generic)) and value.dtype.kind in NUMERIC_KINDS and not value.dtype.fields:
        out.append(np.ascontiguousarray(value).tobytes())
        return {"$": "array" if isinstance(value, np.ndarray) else "scalar", "dtype": value.dtype.str,
                "shape": list(value.shape), "buffer": len(out) - 1}
    if isinstance(value, np.dtype) and value.kind in NUMERIC_KINDS and not value.fields:
        return {"$": "dtype", "dtype": value.str}
    if isinstance(value, type) and issubclass(value, np.generic) and np.dtype(value).kind in NUMERIC_KINDS:
        return {"$": "type", "dtype": np.dtype(value).str}
    if type(value) in (list, tuple):
        return {"$": type(value).__name__, "items": [encode(item, out, other) for item in value]}
    if type(value) is dict and all(key is None or type(key) in (bool, int, float, str) for key in value):
        return {"$": "dict", "items": [[key, encode(item, out, other)] for key, item in value.items()]}
    return other(value)


def checked_list(value, limit=MAX_ITEMS):
    if type(value) is not list or len(value) > limit:
        raise Malformed("an invalid list")
    return value


def decode(node, buffers, other):
    """The value a node describes, checked at every node (Malformed); other(node) for the nodes "ref" (an object of
    this side) and "generator"."""
    import numpy as np

    count = [0]  # nodes decoded

    def dtype_of(text):
        if type(text) is not str or not DTYPE.fullmatch(text):  # a number's: never an object's
            raise Malformed("an invalid dtype")
        try:
            return np.dtype(text)
        except TypeError:
            raise Malformed("an unknown dtype") from None

    def value(node, depth):
        count[0] += 1
        if depth > MAX_DEPTH or count[0] > MAX_ITEMS:
            raise Malformed("a value nested too deep or too large")
        if node is None or type(node) in (bool, int, float):
            return node
        if type(node) is str:
            return cut(node)
        tag = node.get("$") if type(node) is dict else None
        if tag in ("array", "scalar"):
            dtype, index = dtype_of(node.get("dtype")), node.get("buffer")
            if not (type(index) is int and 0 <= index < len(buffers)):
                raise Malformed("an array without its data")
            shape = [1] if tag == "scalar" else checked_list(node.get("shape"), 32)
            if not all(type(n) is int and 0 <= n <= MAX_PAYLOAD for n in shape):
                raise Malformed("an invalid shape")
            if int(np.prod(shape, dtype=object)) * dtype.itemsize != len(buffers[index]):
                raise Malformed("an array whose data does not match its shape")
            array = np.frombuffer(buffers[index], dtype=dtype).reshape(shape).copy()
            return array[0] if tag == "scalar" else array
        if tag in ("dtype", "type"):
            dtype = dtype_of(node.get("dtype"))
            return dtype if tag == "dtype" else dtype.type
        if tag in ("list", "tuple"):
            items = [value(item, depth + 1) for item in checked_list(node.get("items"))]
            return items if tag == "list" else tuple(items)
        if tag == "dict":
            pairs = checked_list(node.get("items"))
            if not all(type(pair) is list and len(pair) == 2 and type(pair[0]) in (type(None), bool, int, float, str)
                       for pair in pairs):
                raise Malformed("a dict with invalid keys")
            return {value(key, depth + 1): value(item, depth + 1) for key, item in pairs}
        if tag in ("ref", "generator"):
            return other(node)
        raise Malformed(f"an unknown kind of value {str(tag)[:40]!r}" if tag else f"a bare {type(node).__name__}")

    return value(node, 0)


# -- the student's end: it lowers its limits before any student code runs, then answers the grader's requests with
# calls on the student's objects, which stay there (the grader gets data, or handles naming them).


def text_of(value):
    """str(value), cut short. It runs the student's code for an exception of theirs: whatever it does, some text."""
    try:
        return cut(str(value))
    except BaseException:  # noqa: B036 - their __str__ may raise anything, even SystemExit: it is only a message
        return "(a message that could not be turned into text)"


def apply_limits(limits):
    """Lower this process's limits ({"AS": bytes, "NPROC": count, ...}) for good; the names of those set. Each is
    tried alone: macOS refuses RLIMIT_AS ("current limit exceeds maximum limit"), Windows has none."""
    try:
        import resource
    except ImportError:
        return []
    applied = []
    for name, value in limits.items():
        which = getattr(resource, "RLIMIT_" + name, None)
        if which is None:
            continue
        try:
            hard = resource.getrlimit(which)[1]
            value = value if hard == resource.RLIM_INFINITY else min(value, hard)
            resource.setrlimit(which, (value, value))
        except (ValueError, OSError):
            continue  # not granted here: the grader's first line does not claim it
        applied.append(name)
    return applied


class Server:
    """The student's module and every object of theirs the grader holds a handle to."""

    def __init__(self, np):
        self.np = np
        self.objects = {}  # handle -> object; kept alive, so that id() stays unique
        self.handles = {}  # id(object) -> handle
        self.methods = {}  # class -> the names of the methods it defines
        self.model_path = None

    def answer(self, header, buffers):
        """The reply to one request: {"value": ...} or {"error": ...}, and the warnings raised meanwhile."""
        out = []
        with warnings.catch_warnings(record=True) as caught, self.np.errstate(over="warn", divide="warn",
                                                                             invalid="warn", under="ignore"):
            warnings.simplefilter("always")
            try:
                reply = {"value": encode(self.run(header, buffers), out, self.reference)}
                if sum(len(buffer) for buffer in out) > MAX_PAYLOAD:
                    raise MemoryError(f"more than the {MAX_PAYLOAD} bytes of arrays the grader takes in one value")
            except BaseException as exc:  # noqa: B036 - SystemExit and KeyboardInterrupt of the student's code too
                reply, out = {"error": self.describe(exc)}, []
        reply["warnings"] = [{"category": text_of(w.category.__name__), "message": text_of(w.message),
                              "line": w.lineno if w.filename == self.model_path else None}
                             for w in caught[:MAX_WARNINGS]]
        return reply, out

    def run(self, header, buffers):
        op = header["op"]
        if op == "import":  # the file's bytes, as a module named student_model
            self.model_path = header["path"]
            module = types.ModuleType("student_model")
            module.__file__ = self.model_path
            sys.modules["student_model"] = module  # dataclasses and pickle look their module up here
            exec(compile(buffers[0], self.model_path, "exec"), module.__dict__)
            self.objects[MODULE_HANDLE] = module
            self.handles[id(module)] = MODULE_HANDLE
            return None
        target, name = self.objects[header["target"]], header["name"]
        args, kwargs = decode(header["value"], buffers, lambda node: self.resolve(node, buffers))  # (args, kwargs)
        if op == "getattr":
            return getattr(target, name)
        if op == "setattr":
            return setattr(target, name, *args)
        if op == "call":  # of the target, or of its method `name`
            return (getattr(target, name) if name else target)(*args, **kwargs)
        return list(target)  # op "list"

    def reference(self, value):
        """A handle to the student's object, which stays here; TypeError for an array that is not data."""
        if isinstance(value, (self.np.ndarray, self.np.generic)):
            raise TypeError(f"the grader takes arrays of numbers or booleans, not of dtype {value.dtype}")
        if id(value) not in self.handles:
            self.handles[id(value)] = len(self.objects) + 1
            self.objects[self.handles[id(value)]] = value
        cls = type(value)
        if cls not in self.methods:  # those that value does not hide behind an attribute of its own are listed
            self.methods[cls] = sorted({name for klass in cls.__mro__ for name, attribute in vars(klass).items()
                                        if isinstance(attribute, types.FunctionType) and not name.startswith("__")})
        own = vars(value) if hasattr(value, "__dict__") else {}
        return {"$": "ref", "id": self.handles[id(value)], "type": text_of(cls.__name__),
                "methods": [name for name in self.methods[cls] if name not in own]}

    def resolve(self, node, buffers):
        """The object a node of the grader's names: one of the student's, or a copy of the grader's random generator
        (what the student's code draws does not advance the grader's)."""
        if node["$"] == "ref":
            return self.objects[node["id"]]
        state = decode(node["state"], buffers, lambda inner: self.resolve(inner, buffers))
        generator = self.np.random.Generator(getattr(self.np.random, state["bit_generator"])())
        generator.bit_generator.state = state
        return generator

    def describe(self, exc):
        """An exception as data: its type, the builtin types it derives from, its message, and the innermost line
        of the student's file it went through (the grader reads that line itself)."""
        line, function = None, None
        traceback = exc.__traceback__
        while traceback is not None:
            code = traceback.tb_frame.f_code
            if code.co_filename == self.model_path:
                line, function = traceback.tb_lineno, code.co_name
            traceback = traceback.tb_next
        if isinstance(exc, SyntaxError) and exc.filename == self.model_path:
            line, function = exc.lineno, None
        if isinstance(exc, SystemExit):
            message = text_of(repr(exc.code) if exc.code is not None else "")
        else:
            message = text_of(exc.msg if isinstance(exc, SyntaxError) else exc)
        return {"type": text_of(type(exc).__name__), "message": message, "line": line, "function": function,
                "builtins": [cls.__name__ for cls in type(exc).__mro__ if cls.__module__ == "builtins"]}


def serve(requests, replies, limits):
    """Set the limits, import NumPy, then answer requests until the grader closes the channel."""
    limits = apply_limits(limits)
    try:
        import numpy as np
    except BaseException as exc:  # noqa: B036 - the grader's installation is at fault: say so, and stop
        send(replies, {"setup_error": f"cannot import NumPy: {type(exc).__name__}: {text_of(exc)}"})
        return
    send(replies, {"ready": True, "limits": limits})
    server = Server(np)
    for header, buffers in iter(lambda: receive(requests), None):
        reply, out = server.answer(header, buffers)
        send(replies, dict(reply, id=header["id"]), out)


if __name__ == "__main__":  # the student's process: python -I -B -c "this file's text" LIMITS
    channel = os.dup(0), os.dup(1)  # the grader's; what the student prints goes to stderr
    os.dup2(2, 1)
    os.dup2(os.open(os.devnull, os.O_RDONLY), 0)
    serve(os.fdopen(channel[0], "rb"), os.fdopen(channel[1], "wb"), json.loads(sys.argv[1]))
