"""The student's side of a sandbox: a process that imports the student's file and answers the grader's requests with
calls on the student's objects, which stay here (the grader gets data, or handles naming them, and believes none of
it). The grader starts it from the texts of wire.py and this file; it lowers its limits before any student code.
"""

import importlib.util
import sys
import types
import warnings

from .wire import MAX_PAYLOAD, MODULE_HANDLE, NUMERIC_KINDS, receive, send

MAX_TEXT = 2000  # characters of any text sent back (the grader cuts again)
MAX_WARNINGS = 10  # warnings sent back per request


def text_of(value):
    """str(value), cut short. It runs the student's code for an exception of theirs: whatever it does, some text."""
    try:
        text = str(value)
    except BaseException:  # noqa: B036 - their __str__ may raise anything, even SystemExit: it is only a message
        return "(a message that could not be turned into text)"
    return text if len(text) <= MAX_TEXT else text[:MAX_TEXT] + " [...]"


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
                reply = {"value": self.encode(self.run(header, buffers), out)}
            except BaseException as exc:  # noqa: B036 - SystemExit and KeyboardInterrupt of the student's code too
                reply, out = {"error": self.describe(exc)}, []
        reply["warnings"] = [{"category": text_of(w.category.__name__), "message": text_of(w.message),
                              "line": w.lineno if w.filename == self.model_path else None}
                             for w in caught[:MAX_WARNINGS]]
        return reply, out

    def run(self, header, buffers):
        op = header["op"]
        if op == "import":
            self.model_path = header["path"]
            spec = importlib.util.spec_from_file_location("student_model", self.model_path)
            module = importlib.util.module_from_spec(spec)
            sys.modules["student_model"] = module  # dataclasses and pickle look their module up here
            spec.loader.exec_module(module)
            self.objects[MODULE_HANDLE] = module
            self.handles[id(module)] = MODULE_HANDLE
            return None
        target, name = self.objects[header["target"]], header["name"]
        args = [self.decode(arg, buffers) for arg in header["args"]]
        kwargs = {key: self.decode(value, buffers) for key, value in header["kwargs"]}
        if op == "getattr":
            return getattr(target, name)
        if op == "setattr":
            return setattr(target, name, *args)
        if op == "call":  # of the target, or of its method `name`
            return (getattr(target, name) if name else target)(*args, **kwargs)
        if op == "list":
            return list(target)
        raise ValueError(f"unknown request {op!r}")

    def encode(self, value, out):
        """value as JSON, its arrays appended to out; the student's objects become handles. The grader checks the
        size and the nesting of what it gets."""
        np = self.np
        if value is None or type(value) in (bool, int, float):
            return value
        if type(value) is str:
            return text_of(value)
        if isinstance(value, (np.ndarray, np.generic)):
            array = np.ascontiguousarray(value)
            if array.dtype.kind not in NUMERIC_KINDS or array.dtype.fields:
                raise TypeError(f"the grader takes arrays of numbers or booleans, not of dtype {array.dtype}")
            if sum(len(b) for b in out) + array.nbytes > MAX_PAYLOAD:
                raise MemoryError(f"an array of {array.nbytes} bytes is more than the grader takes ({MAX_PAYLOAD})")
            out.append(array.tobytes())
            tag = "array" if isinstance(value, np.ndarray) else "scalar"
            return {"$": tag, "dtype": array.dtype.str, "shape": list(array.shape), "buffer": len(out) - 1}
        if isinstance(value, np.dtype) and value.kind in NUMERIC_KINDS and not value.fields:
            return {"$": "dtype", "dtype": value.str}
        if isinstance(value, type) and issubclass(value, np.generic) and np.dtype(value).kind in NUMERIC_KINDS:
            return {"$": "type", "dtype": np.dtype(value).str}
        if type(value) in (list, tuple):
            return {"$": type(value).__name__, "items": [self.encode(item, out) for item in value]}
        if type(value) is dict and all(key is None or type(key) in (bool, int, float, str) for key in value):
            return {"$": "dict", "items": [[key, self.encode(item, out)] for key, item in value.items()]}
        if id(value) not in self.handles:
            self.handles[id(value)] = len(self.objects) + 1
            self.objects[self.handles[id(value)]] = value
        return {"$": "ref", "id": self.handles[id(value)], "type": text_of(type(value).__name__),
                "methods": self.methods_of(value)}

    def methods_of(self, value):
        """The methods of value's class that value does not hide behind an attribute of its own."""
        cls = type(value)
        if cls not in self.methods:
            self.methods[cls] = sorted({name for klass in cls.__mro__ for name, attribute in vars(klass).items()
                                        if isinstance(attribute, types.FunctionType) and not name.startswith("__")})
        own = vars(value) if hasattr(value, "__dict__") else {}
        return [name for name in self.methods[cls] if name not in own]

    def decode(self, node, buffers):
        """A value from the grader (trusted): JSON and arrays back into Python objects."""
        np = self.np
        if not isinstance(node, dict):
            return node
        tag = node["$"]
        if tag in ("array", "scalar"):
            array = np.frombuffer(buffers[node["buffer"]], dtype=np.dtype(node["dtype"]))
            return array.reshape(node["shape"]).copy() if tag == "array" else array[0]
        if tag in ("dtype", "type"):
            return np.dtype(node["dtype"]) if tag == "dtype" else np.dtype(node["dtype"]).type
        if tag in ("list", "tuple"):
            items = [self.decode(item, buffers) for item in node["items"]]
            return items if tag == "list" else tuple(items)
        if tag == "dict":
            return {key: self.decode(item, buffers) for key, item in node["items"]}
        if tag == "ref":
            return self.objects[node["id"]]
        if tag == "generator":  # a copy: what the student's code draws does not advance the grader's generator
            state = self.decode(node["state"], buffers)
            generator = np.random.Generator(getattr(np.random, state["bit_generator"])())
            generator.bit_generator.state = state
            return generator
        raise ValueError(f"unknown value {tag!r}")

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


def serve(request_fd, reply_fd):
    """Set the limits, import NumPy, then answer requests until the grader closes the channel."""
    start, _ = receive(request_fd)
    limits = apply_limits(start["limits"])
    if start.get("only_limits"):  # the grader asks which limits this OS grants (process.py: limits_granted)
        return send(reply_fd, {"limits": limits})
    try:
        import numpy as np
    except BaseException as exc:  # noqa: B036 - the grader's installation is at fault: say so, and stop
        send(reply_fd, {"setup_error": f"cannot import NumPy: {type(exc).__name__}: {text_of(exc)}"})
        return
    send(reply_fd, {"ready": True, "limits": limits})
    server = Server(np)
    while True:
        try:
            header, buffers = receive(request_fd)
        except EOFError:
            return
        reply, out = server.answer(header, buffers)
        send(reply_fd, dict(reply, id=header["id"]), out)
