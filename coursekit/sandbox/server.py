"""The student's side of a sandbox: a process that imports the student's file and answers the grader's requests with
calls on the student's objects, which stay here (the grader gets data, or handles naming them, and believes none of
it). The grader starts it from the texts of wire.py and this file; it lowers its limits before any student code.
"""

import sys
import types
import warnings

from .wire import MAX_PAYLOAD, MODULE_HANDLE, cut, decode, encode, receive, send

MAX_WARNINGS = 10  # warnings sent back per request


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
        if op == "list":
            return list(target)
        raise ValueError(f"unknown request {op!r}")

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


def serve(request_fd, reply_fd, limits):
    """Set the limits, import NumPy, then answer requests until the grader closes the channel."""
    limits = apply_limits(limits)
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
