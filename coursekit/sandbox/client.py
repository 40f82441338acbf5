"""The grader's side of a sandbox: Sandbox, a student's file imported in a process of its own (server.py), its
objects used from here through proxies. Each request is one message and one reply (process.py moves them, values.py
encodes and checks what they carry); this file decides when a process starts and what a failure costs.
"""

import time
from dataclasses import dataclass
from pathlib import Path

from ..errors import KitError
from . import users, wire
from .errors import (
    DeadObjectError,
    StudentCrash,
    StudentError,
    StudentImportError,
    StudentProtocolError,
    StudentTimeout,
    import_diagnosis,
    source_problem,
)
from .process import Ended, StudentProcess, TimedOut, cannot_start, describe_status
from .users import claim_uid, interpreter_problem, kill_processes_of, release_uid, remove_files_of, running_as_root
from .values import Malformed, RemoteObject, checked_list, cut, decode, encode, proxy_class, student_error, warn_here

MAX_MALFORMED = 3  # malformed replies (each kills the process) after which no new process is started


@dataclass
class Event:
    """Something that happened to the student's process: kind "timeout", "ended" or "malformed"."""

    kind: str
    message: str


def default_limits(memory_mb=1024, file_mb=16, cpu_seconds=600):
    """The limits of a student's process, by the names of RLIMIT_*: none on Windows, which has no setrlimit."""
    if users.WINDOWS:
        return {}
    return {"AS": memory_mb << 20, "FSIZE": file_mb << 20, "CPU": int(cpu_seconds), "NPROC": 1, "CORE": 0,
            "NOFILE": 256}


class Sandbox:
    """A student's file imported in a process of its own; `.module` is the proxy of the student's module.

        with Sandbox(model_file, timeout=10) as box:   # or: box = Sandbox(); box.start() ... box.use(model_file)
            box.module.Linear(4, 5)

    start() starts the process without waiting (Python and NumPy load meanwhile: a grader starts the next
    submission's while it grades this one); use(model_file) imports the file in it.
    timeout: seconds one call may take before the process is killed (see also limit_time); drop_privileges: run as
    a fresh unprivileged user (None: when root).
    """

    def __init__(self, model_file=None, timeout=10.0, memory_mb=1024, file_mb=16, cpu_seconds=600,
                 setup_timeout=60.0, max_starts=100, drop_privileges=None):
        self.timeout, self.setup_timeout, self.max_starts = float(timeout), setup_timeout, max_starts
        self.limits = default_limits(memory_mb, file_mb, cpu_seconds)
        self.drop_privileges = running_as_root() if drop_privileges is None else drop_privileges
        if self.drop_privileges and not running_as_root():
            raise KitError("Dropping privileges needs root.")
        self.model_file, self.name, self.source, self.lines = None, "model.py", b"", []
        self.import_error = None  # the StudentImportError of the file, once known
        self.events = []  # Event of each timeout, end or malformed reply, in order
        self.uid = None  # the sandbox user's uid (and gid) when privileges are dropped
        self.starts = 0
        self.module = RemoteObject(self, None, wire.MODULE_HANDLE)  # None: always the module of the live process
        self._first_file = model_file
        self._deadline = self._budget = None
        self._generation = 0  # processes started: a proxy belongs to the one of its generation
        self._process = None  # the live StudentProcess
        self._starting = False  # started, the reply to "start" not read yet
        self._next_id = 0

    def __enter__(self):
        self.start()
        if self._first_file is not None:
            self.use(self._first_file)
        return self

    def __exit__(self, *exc_info):
        self.close()

    def start(self):
        """Start the process (as a user of its own, when dropping privileges), without waiting for it to be ready."""
        try:
            if self.drop_privileges and self.uid is None:
                if interpreter_problem():
                    raise KitError(interpreter_problem())
                self.uid = claim_uid()
            if self._process is None:
                self._spawn()
        except BaseException:
            self.close()
            raise

    def use(self, model_file):
        """Import model_file in the process. Its problems (unreadable, empty, binary, a syntax error, an error at
        import time) end up in .import_error, a StudentImportError; KitError when the process cannot start."""
        self.model_file = Path(model_file).resolve()
        self.name = self.model_file.name
        try:
            self.source = self.model_file.read_bytes()  # read once: the process imports it, blame quotes its lines
        except OSError as error:
            self.import_error = StudentImportError(f"{self.name} cannot be read: {error.strerror or error}")
            return
        self.lines = self.source.decode("utf-8", errors="replace").splitlines()
        if source_problem(self.name, self.source):
            self.import_error = StudentImportError(source_problem(self.name, self.source))
            return
        try:
            self._ensure_child()
        except StudentImportError as error:
            self.import_error = error
        except BaseException:
            self.close()
            raise

    def close(self):
        """Kill the student's process (and, with a uid of its own, every process of that uid) and delete its files."""
        self._stop_child()
        if self.uid is not None:
            kill_processes_of(self.uid)
            remove_files_of(self.uid)
            release_uid(self.uid)
            self.uid = None

    def limit_time(self, seconds):
        """From now on the calls share `seconds` (each also gets at most `timeout`): the call running when they run
        out is stopped, and calls made after raise StudentTimeout at once."""
        self._budget = float(seconds)
        self._deadline = time.monotonic() + self._budget

    def _call_deadline(self):
        """(seconds allowed, monotonic deadline) of the next call."""
        deadline, limit = time.monotonic() + self.timeout, self.timeout
        if self._deadline is not None and self._deadline < deadline:
            deadline, limit = self._deadline, self._budget
        if deadline <= time.monotonic():
            message = f"no time left: the code in {self.name} took more than {limit:g} s (an endless loop?)"
            self.events.append(Event("timeout", message))
            raise StudentTimeout(message)
        return limit, deadline

    # -- the student's process

    def _ensure_child(self):
        """A live process with the file imported: a new one after a kill (StudentImportError if it cannot be)."""
        if self._process is not None and not self._starting:
            return
        if self.import_error is not None:
            raise self.import_error
        if self.starts >= self.max_starts:
            raise StudentCrash(f"the student's process was started {self.starts} times: no more")
        if sum(event.kind == "malformed" for event in self.events) >= MAX_MALFORMED:
            raise StudentProtocolError(f"the student's process sent malformed replies {MAX_MALFORMED} times: it is "
                                       f"not started again")
        if self._process is None:
            self._spawn()
        self._await_ready()
        self._process.place_file(self.name, self.source)
        try:
            self._request(None, {"op": "import", "path": str(self._process.scratch / self.name)})
        except StudentImportError:
            raise
        except StudentError as error:
            self.import_error = StudentImportError(import_diagnosis(error, self.name), error.blame)
            self._stop_child()
            raise self.import_error from None

    def _spawn(self):
        """Start a process in a new scratch folder and send it its limits; its reply is read by _await_ready."""
        self.starts += 1
        self._generation += 1
        self._process = StudentProcess(self.uid)
        self._starting = True
        start = {"op": "start", "limits": self.limits}
        try:
            self._process.send(wire.pack(start), time.monotonic() + self.setup_timeout)
        except (TimedOut, Ended):
            pass  # _await_ready says why

    def _await_ready(self):
        """Read the reply to "start"; KitError when the process cannot start."""
        self._starting = False
        process = self._process
        try:
            header, _ = process.receive(time.monotonic() + self.setup_timeout)
        except (TimedOut, Ended, Malformed) as why:
            status = self._stop_child()
            said = process.last_line()[:200]
            reason = f"it ended with {describe_status(status)}" if isinstance(why, Ended) else "it did not start"
            raise KitError(cannot_start(reason + (f"; it said: {said}" if said else ""), self.uid)) from None
        if "setup_error" in header:
            self._stop_child()
            raise KitError(cannot_start(cut(str(header["setup_error"])), self.uid))

    def _stop_child(self):
        """Kill the live process (its group, and with a uid of its own every process of it); its exit status."""
        process, self._process, self._starting = self._process, None, False
        return process.stop() if process is not None else None

    def _ended(self):
        """The process ended by itself during a call: reap it, and the StudentCrash that says how."""
        status = self._process.exit_status()
        said = cut(self._process.last_line(), 200)
        self._stop_child()
        message = f"the student's process ended with {describe_status(status)} during this call"
        if status is not None and status >= 0:
            message += f" (does {self.name} call os._exit()?)"
        if said:
            message += f"; its last line of output: {said}"
        self.events.append(Event("ended", message))
        return StudentCrash(message)

    # -- requests

    def _proxy(self, type_name, handle, methods):
        """The proxy of the student's object `handle` in the live process."""
        return proxy_class(type_name)(self, self._generation, handle, methods)

    def _getattr(self, proxy, name):
        return self._request(proxy, {"op": "getattr", "name": name})

    def _setattr(self, proxy, name, value):
        out = []
        self._request(proxy, {"op": "setattr", "name": name, "value": encode(value, out, self._generation)}, out)

    def _call(self, proxy, method, args, kwargs):
        """Call proxy (or its method named `method`) with args and kwargs, in the student's process."""
        out = []
        encoded = [encode(arg, out, self._generation) for arg in args]
        named = [[name, encode(value, out, self._generation)] for name, value in kwargs.items()]
        return self._request(proxy, {"op": "call", "name": method, "args": encoded, "kwargs": named}, out)

    def _request(self, proxy, header, out=()):
        """Send a request about proxy (None: the module) and return the value of the reply, or raise what the
        student's code raised. Starts a new process first when the last one was killed."""
        generation = None if proxy is None else proxy._generation
        if generation is not None and (self._process is None or generation != self._generation):
            raise DeadObjectError(f"this {type(proxy).__name__} object belonged to a student's process that was "
                                  f"stopped since (after a time-out or an exit): it is gone")
        if header["op"] == "import":  # its own time: a slow import is the file's, not the checks' that came before
            limit, deadline = self.timeout, time.monotonic() + self.timeout
        else:
            if self.import_error is not None:
                raise self.import_error
            if self.model_file is None:
                raise KitError("No student's file in this sandbox yet: Sandbox.use(model_file) first.")
            limit, deadline = self._call_deadline()
            self._ensure_child()
        self._next_id += 1
        target = wire.MODULE_HANDLE if proxy is None else proxy._handle
        try:
            self._process.send(wire.pack(dict(header, id=self._next_id, target=target), out), deadline)
            return self._reply_value(*self._process.receive(deadline))
        except TimedOut:
            self._stop_child()
            message = f"the code in {self.name} did not answer within {limit:g} s (an endless loop?)"
            self.events.append(Event("timeout", message))
            raise StudentTimeout(message) from None
        except Ended:
            raise self._ended() from None
        except Malformed as why:
            self._stop_child()
            message = f"the student's process sent a malformed reply ({why}): it was stopped"
            self.events.append(Event("malformed", message))
            raise StudentProtocolError(message) from None

    def _reply_value(self, reply, buffers):
        """The value of the reply to the request just sent, or the student's error it holds (Malformed for
        anything else); its warnings are warned here."""
        if reply.get("id") != self._next_id:
            raise Malformed("a reply to another request")
        for warning in checked_list(reply.get("warnings", []), 50):
            warn_here(warning, self)
        if "error" in reply:
            raise student_error(reply["error"], self)
        if "value" not in reply:
            raise Malformed("a reply without a value")
        return decode(reply["value"], buffers, self._proxy)
