"""The grader's side of a sandbox: Sandbox, a student's file imported in a process of its own, its objects used from
here through proxies. It decides when a process starts and what a failure costs.
"""

import collections
import re
import time
import warnings
from pathlib import Path

import numpy as np

from ..errors import KitError
from . import errors, users, wire
from .process import StudentProcess, describe_status
from .users import claim_uid, interpreter_problem, release_uid, running_as_root
from .wire import Malformed, checked_list, cut, decode, encode

MAX_MALFORMED = 3  # malformed replies (each kills the process) after which no new process is started
MAX_MESSAGE = 600  # characters kept of an exception message from the student's process
NAME = re.compile(r"<?[A-Za-z_][A-Za-z0-9_]{0,60}>?")  # of a type or a function (<module>) of the student's

Event = collections.namedtuple("Event", "kind message")  # what befell the process: "timeout", "ended", "malformed"
FAILURES = {"timeout": errors.StudentTimeout, "ended": errors.StudentCrash, "malformed": errors.StudentProtocolError}


def default_limits(memory_mb=1024, cpu_seconds=600):
    """The limits of a student's process, by the names of RLIMIT_*: none on Windows, which has no setrlimit."""
    if users.WINDOWS:
        return {}
    return {"AS": memory_mb << 20, "FSIZE": 16 << 20, "CPU": int(cpu_seconds), "NPROC": 1, "CORE": 0, "NOFILE": 256}


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


def type_name(name):
    """The name of a type of the student's, as reports show it: a plain identifier, or "object"."""
    return name if type(name) is str and NAME.fullmatch(name) and not name.startswith("<") else "object"


class Sandbox:
    """A student's file imported in a process of its own; `.module` is the proxy of the student's module. Either
    `with Sandbox(model_file) as box:`, or start() (Python and NumPy load meanwhile: a grader starts the next
    submission's while it grades this one) then use(model_file). timeout: seconds one call may take before the
    process is killed (see also limit_time); drop_privileges: as root, run as a fresh unprivileged user."""

    def __init__(self, model_file=None, timeout=10.0, memory_mb=1024, cpu_seconds=600, drop_privileges=True):
        self.timeout = float(timeout)
        self.limits = default_limits(memory_mb, cpu_seconds)
        self.drop_privileges = drop_privileges and running_as_root()
        self.model_file, self.name, self.source, self.lines = None, "model.py", b"", []
        self.import_error = None  # the StudentImportError of the file, once known
        self.events = []  # an Event per timeout, end or malformed reply, in order
        self.uid = None  # the sandbox user's uid (and gid) when privileges are dropped
        self.module = RemoteObject(self, None, wire.MODULE_HANDLE)  # None: always the module of the live process
        self._first_file = model_file
        self._deadline = self._budget = None
        self._generation = 0  # processes started: a proxy belongs to the one of its generation
        self._process = None  # the live StudentProcess
        self._starting = False  # started, not known to be ready yet
        self._next_id = 0

    def __enter__(self):
        try:
            self.start()
            if self._first_file is not None:
                self.use(self._first_file)
        except BaseException:
            self.close()
            raise
        return self

    def __exit__(self, *exc_info):
        self.close()

    def start(self):
        """Start the process (as a user of its own, when dropping privileges), without waiting for it to be ready."""
        if self.drop_privileges and self.uid is None:
            if interpreter_problem():
                raise KitError(interpreter_problem())
            self.uid = claim_uid()
        if self._process is None:
            self._spawn()

    def use(self, model_file):
        """Import model_file in the process. Its problems (unreadable, empty, binary, a syntax error, an error at
        import time) end up in .import_error, a StudentImportError; KitError when the process cannot start."""
        self.model_file = Path(model_file).resolve()
        self.name = self.model_file.name
        try:
            self.source = self.model_file.read_bytes()  # read once: the process imports it, blame quotes its lines
        except OSError as error:
            self.import_error = errors.StudentImportError(f"{self.name} cannot be read: {error.strerror or error}")
            return
        self.lines = self.source.decode("utf-8", errors="replace").splitlines()
        if not self.source.strip() or b"\0" in self.source:
            problem = "is empty" if not self.source.strip() else "is not a text file (it holds NUL bytes)"
            self.import_error = errors.StudentImportError(f"{self.name} {problem}: was the right file submitted?")
            return
        try:
            self._ensure_child()
        except errors.StudentImportError as error:
            self.import_error = error

    def close(self):
        """Kill the student's process (and, with a uid of its own, every process of that uid) and delete its files."""
        self._stop_child()
        if self.uid is not None:
            release_uid(self.uid)
            self.uid = None

    def limit_time(self, seconds):
        """From now on the calls share `seconds` (each also gets at most `timeout`): the call running when they run
        out is stopped, and calls made after raise StudentTimeout at once."""
        self._budget = float(seconds)
        self._deadline = time.monotonic() + self._budget

    # -- the student's process

    def _ensure_child(self):
        """A live process with the file imported: a new one after a kill (StudentImportError if it cannot be)."""
        if self._process is not None and not self._starting:
            return
        if self.import_error is not None:
            raise self.import_error
        if sum(event.kind == "malformed" for event in self.events) >= MAX_MALFORMED:
            raise errors.StudentProtocolError(f"the student's process sent malformed replies {MAX_MALFORMED} times: "
                                              f"it is not started again")
        if self._process is None:
            self._spawn()
        self._process.wait_ready()
        self._starting = False
        try:  # its own time: a slow import is the file's, not the checks' that came before
            self._exchange({"op": "import", "path": self.name}, [self.source], self.timeout,
                           time.monotonic() + self.timeout)
        except errors.StudentError as error:
            self.import_error = errors.StudentImportError(errors.import_diagnosis(error, self.name), error.blame)
            self._stop_child()
            raise self.import_error from None

    def _spawn(self):
        """Start a process in a new scratch folder, with the limits; _ensure_child waits for it to be ready."""
        self._generation += 1
        self._process = StudentProcess(self.uid, self.limits)
        self._starting = True

    def _stop_child(self):
        """Kill the live process (its group, and with a uid of its own every process of it)."""
        if self._process is not None:
            self._process.stop()
        self._process, self._starting = None, False

    # -- requests

    def _request(self, proxy, op, name="", args=(), kwargs=None):
        """Do op ("getattr", "setattr", "call", "list") on proxy's object in the student's process: the value that
        comes back, or what the student's code raised. A new process first when the last one was killed."""
        if proxy._generation is not None and (self._process is None or proxy._generation != self._generation):
            raise errors.DeadObjectError(f"this {type(proxy).__name__} object belonged to a student's process that "
                                         f"was stopped since (after a time-out or an exit): it is gone")
        deadline, limit = time.monotonic() + self.timeout, self.timeout
        if self._deadline is not None and self._deadline < deadline:
            deadline, limit = self._deadline, self._budget
        if deadline <= time.monotonic():
            message = f"no time left: the code in {self.name} took more than {limit:g} s (an endless loop?)"
            self.events.append(Event("timeout", message))
            raise errors.StudentTimeout(message)
        self._ensure_child()
        out = []
        value = encode((tuple(args), kwargs or {}), out, lambda item: self._reference(item, out))
        return self._exchange({"op": op, "target": proxy._handle, "name": name, "value": value}, out, limit, deadline)

    def _reference(self, value, out):
        """How what is not data is sent: a proxy as its handle, a random generator as its state (a copy)."""
        if isinstance(value, RemoteObject):
            if value._generation not in (None, self._generation):
                raise errors.DeadObjectError("an object of a student's process that was stopped since cannot be sent")
            return {"$": "ref", "id": value._handle}
        if isinstance(value, np.random.Generator):
            return {"$": "generator", "state": encode(value.bit_generator.state, out,
                                                      lambda item: self._reference(item, out))}
        raise TypeError(f"a {type(value).__name__} cannot be sent to the student's code: only numbers, text, "
                        f"arrays of numbers, lists, tuples and dicts of these, and the student's own objects")

    def _exchange(self, header, out, limit, deadline):
        """Send one request, and return the value of its reply or raise the student's error it holds; its warnings
        are warned here. A time-out, an end or a malformed reply stops the process and costs this call."""
        self._next_id += 1
        try:
            self._process.send(wire.pack(dict(header, id=self._next_id), out), deadline)
            reply, buffers = self._process.receive(deadline)
            if reply.get("id") != self._next_id:
                raise Malformed("a reply to another request")
            for warning in checked_list(reply.get("warnings", []), 50):
                if type(warning) is dict and warning.get("category") == "RuntimeWarning" and \
                        type(warning.get("message")) is str:  # the checks record NumPy's, and their line
                    line = warning.get("line") if self._in_file(warning.get("line")) else 0
                    warnings.warn_explicit(cut(warning["message"], 200), RuntimeWarning,
                                           str(self.model_file) if line else "<the student's process>", line)
            if "error" in reply:
                raise self._student_error(reply["error"])
            if "value" not in reply:
                raise Malformed("a reply without a value")
            return decode(reply["value"], buffers, self._proxy)
        except (TimeoutError, EOFError, Malformed) as why:
            raise self._failed(why, limit) from None

    def _failed(self, why, limit):
        """The process did not answer in time, ended by itself, or sent a malformed reply during a call: stop it,
        note it in events, and the exception that says what happened."""
        if isinstance(why, TimeoutError):
            kind, message = "timeout", f"the code in {self.name} did not answer within {limit:g} s (an endless loop?)"
        elif isinstance(why, Malformed):
            kind, message = "malformed", f"the student's process sent a malformed reply ({why}): it was stopped"
        else:
            status, said = self._process.exit_status(), cut(self._process.last_line(), 200)
            kind, message = "ended", f"the student's process ended with {describe_status(status)} during this call"
            if status is not None and status >= 0:
                message += f" (does {self.name} call os._exit()?)"
            message += f"; its last line of output: {said}" if said else ""
        self._stop_child()
        self.events.append(Event(kind, message))
        return FAILURES[kind](message)

    def _in_file(self, line):
        return type(line) is int and 1 <= line <= len(self.lines)

    def _student_error(self, info):
        """The exception here that stands for the student's exception that info describes."""
        if type(info) is not dict or type(info.get("message")) is not str:
            raise Malformed("an invalid error")
        builtin_names = [name for name in checked_list(info.get("builtins", [])) if type(name) is str]
        message, line, function = cut(info["message"], MAX_MESSAGE), info.get("line"), info.get("function")
        blame = None
        if self._in_file(line):
            function = function if type(function) is str and NAME.fullmatch(function) else "<module>"
            blame = errors.Blame(str(self.model_file), line, function, self.lines[line - 1].strip()[:200])
        if "SystemExit" in builtin_names:
            return errors.StudentExit(f"{self.name} called sys.exit({message})", blame)
        return errors.error_class(type_name(info.get("type")), builtin_names)(message, blame)

    def _proxy(self, node):
        """The proxy of the student's object that a "ref" node names, in the live process."""
        handle, methods = node.get("id"), checked_list(node.get("methods"), 1000)
        if node["$"] != "ref" or not (type(handle) is int and handle >= 0 and all(type(m) is str for m in methods)):
            raise Malformed("an invalid handle")
        cls = errors.subclass(type_name(node.get("type")), RemoteObject, __slots__=())  # named as the student's type
        return cls(self, self._generation, handle, frozenset(methods))
