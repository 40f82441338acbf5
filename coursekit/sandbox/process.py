"""The student's process, from the grader's side: `python -I -B -c SERVER_SOURCE` (the texts of wire.py and
server.py) in a scratch folder of its own, as a user of its own when given one; messages over its stdin and stdout,
never waited on past a deadline: threads read and write its pipes (select() cannot wait on a pipe on Windows).
"""

import contextlib
import json
import os
import queue
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from ..errors import KitError
from . import server, users, wire
from .wire import MAX_ITEMS, Malformed, checked_list

MAX_HEADER = 8 << 20  # bytes of JSON in one reply
MAX_OUTPUT = 4000  # bytes kept of the end of what the student's process printed
POLL = 0.1  # seconds between checks that the student's process is still alive while waiting for it

BOOTSTRAP = """\
import os, sys, types
sys.argv[1:] = [str(os.dup(0)), str(os.dup(1))]  # the grader's channel; what the student prints goes to stderr
os.dup2(2, 1)
os.dup2(os.open(os.devnull, os.O_RDONLY), 0)
for name, text in {texts!r}:
    module = types.ModuleType(name)
    module.__package__ = {package!r}
    sys.modules[name] = module
    exec(compile(text, "<" + name + ">", "exec"), module.__dict__)
sys.modules[{server!r}].serve(int(sys.argv[1]), int(sys.argv[2]))
"""
SERVER_SOURCE = BOOTSTRAP.format(  # server imports only the standard library and wire
    texts=[(module.__name__, Path(module.__file__).read_text(encoding="utf-8")) for module in (wire, server)],
    package=__package__, server=server.__name__)


class TimedOut(Exception):
    """The student's process did not answer before the deadline."""


class Ended(Exception):
    """The student's process ended (or closed its end of a pipe)."""


SIGNAL_MEANINGS = {"SIGKILL": ": killed, or out of memory", "SIGSEGV": ": a crash in native code",
                   "SIGXCPU": ": out of CPU time", "SIGXFSZ": ": it wrote a file larger than allowed"}


def describe_status(status):
    """An exit status of subprocess (negative: killed by a signal) in words."""
    if status is None or status >= 0:
        return "an unknown status" if status is None else f"exit status {status}"
    name = signal.Signals(-status).name if -status in signal.valid_signals() else "?"
    return f"signal {-status} ({name}{SIGNAL_MEANINGS.get(name, '')})"


def cannot_start(why, uid):
    """The message of a student's process that cannot start, run as uid (None: as the grader)."""
    text = f"Cannot start the sandbox's Python ({sys.executable}): {why}."
    if uid is not None:
        text += (f" It runs as an unprivileged user (uid {uid}), which must be able to run the interpreter and read "
                 f"its libraries and NumPy: install them where every user can (apt's python3, a venv in /opt).")
    return text


def limits_granted(limits):
    """The names of the limits this OS lets a process lower, tried in a student's process without a student's file:
    the grader's first line states only those."""
    process = StudentProcess()
    try:
        process.send(wire.pack({"op": "start", "limits": limits, "only_limits": True}), time.monotonic() + 60)
        header, _ = process.receive(time.monotonic() + 60)
        return [name for name in header.get("limits", []) if type(name) is str]
    except (TimedOut, Ended, Malformed):
        return []
    finally:
        process.stop()


def parse_int(text):
    """JSON integers of at most 40 digits: a huge one could take seconds to parse (or not parse at all)."""
    if len(text) > 40:
        raise ValueError("an integer of more than 40 digits")
    return int(text)


def pump(stream, sink):
    """Pass every chunk read from stream to sink, then None at its end."""
    with contextlib.suppress(OSError, ValueError):
        for chunk in iter(lambda: stream.read(1 << 16), b""):
            sink(chunk)
    sink(None)


class StudentProcess:
    """One student's process, run as uid (None: as the grader): its scratch folder, its pipes, the end of what it
    printed. KitError when it cannot be started."""

    def __init__(self, uid=None):
        self.uid = uid
        self.output = bytearray()  # the end of what it printed
        self._inbox = bytearray()  # bytes of replies read, not used yet
        self._replies, self._requests, self._written = queue.Queue(), queue.Queue(), queue.Queue()
        try:
            self.scratch = Path(tempfile.mkdtemp(prefix="sandbox-"))
            if uid is not None:
                os.chown(self.scratch, uid, uid)
        except OSError as error:
            raise KitError(f"Cannot prepare the sandbox's folder in {tempfile.gettempdir()}: "
                           f"{error.strerror or error}.") from None
        env = {"HOME": str(self.scratch), "TMPDIR": str(self.scratch), "TEMP": str(self.scratch),
               "TMP": str(self.scratch), "LC_ALL": "C.UTF-8",
               "OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
        if users.WINDOWS:  # Python cannot start there without SYSTEMROOT
            env.update({name: os.environ[name] for name in ("SYSTEMROOT", "PATH") if name in os.environ})
            options = {"creationflags": getattr(subprocess, "CREATE_NEW_PROCESS_GROUP", 0)}
        else:
            env["PATH"] = "/usr/local/bin:/usr/bin:/bin"
            options = {"start_new_session": True, "umask": 0o077}
            if uid is not None:
                options.update(user=uid, group=uid, extra_groups=[])
        try:
            self.child = subprocess.Popen([sys.executable, "-I", "-B", "-c", SERVER_SOURCE], stdin=subprocess.PIPE,
                                          stdout=subprocess.PIPE, stderr=subprocess.PIPE, bufsize=0, cwd=self.scratch,
                                          env=env, **options)
        except OSError as error:
            shutil.rmtree(self.scratch, ignore_errors=True)
            raise KitError(cannot_start(f"{error.strerror or error}", uid)) from None
        self._threads = [threading.Thread(target=target, args=args, daemon=True) for target, args in (
            (pump, (self.child.stdout, self._replies.put)), (pump, (self.child.stderr, self._keep_output)),
            (self._write_requests, ()))]
        for thread in self._threads:
            thread.start()

    def stop(self):
        """Kill it with every process it started, delete its folder; its exit status."""
        if users.WINDOWS:
            with contextlib.suppress(OSError, subprocess.SubprocessError):
                subprocess.run(["taskkill", "/F", "/T", "/PID", str(self.child.pid)], capture_output=True, timeout=10)
        else:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.child.pid, signal.SIGKILL)  # its own session: pgid == pid
        with contextlib.suppress(OSError):
            self.child.kill()
        if self.uid is not None:
            users.kill_processes_of(self.uid)
        status = None
        with contextlib.suppress(subprocess.TimeoutExpired):  # gone at once, unless the kernel holds it (a hung disk)
            status = self.child.wait(timeout=10)
        self._requests.put(None)
        for stream in (self.child.stdin, self.child.stdout, self.child.stderr):
            with contextlib.suppress(OSError):
                stream.close()
        shutil.rmtree(self.scratch, ignore_errors=True)  # in the temporary folder; never the student's fault
        return status

    def exit_status(self):
        """The exit status of a process that ended by itself (None if it is still going after a second)."""
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.child.wait(timeout=1.0)  # the pipe closed an instant before the process was gone
        return self.child.poll()

    def last_line(self):
        self._threads[1].join(timeout=1.0)  # what is still in the pipe: it may end with it
        lines = self.output.decode("utf-8", errors="replace").strip().splitlines()
        return lines[-1].strip() if lines else ""

    def place_file(self, name, source):
        """The student's file (its bytes), into the scratch folder, where the process imports it."""
        model = self.scratch / name
        try:  # a new file, never through a link: the folder is the student's user's (no code of theirs ran yet)
            flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_BINARY", 0)
            with open(os.open(model, flags, 0o600), "wb") as file:
                file.write(source)
            if self.uid is not None:
                os.chown(model, self.uid, self.uid)
        except OSError as error:
            raise KitError(f"Cannot write {model}: {error.strerror or error}.") from None

    def send(self, data, deadline):
        """Write a message; TimedOut at the deadline (it is not reading), Ended when the process is gone."""
        self._requests.put(data)
        try:
            error = self._written.get(timeout=max(0.0, deadline - time.monotonic()))
        except queue.Empty:
            raise TimedOut() from None
        if error is not None:
            raise Ended()

    def _write_requests(self):
        for data in iter(self._requests.get, None):
            try:
                self.child.stdin.write(data)  # unbuffered and blocking: the whole message
                self._written.put(None)
            except (OSError, ValueError) as error:
                self._written.put(error)

    def receive(self, deadline):
        """One message from the student's process: (header dict, buffers), validated in size and form (Malformed)."""
        head_length, payload_length = wire.FRAME.unpack(self._read(wire.FRAME.size, deadline))
        if head_length > MAX_HEADER or payload_length > wire.MAX_PAYLOAD:
            raise Malformed(f"a message of {head_length + payload_length} bytes")
        head, payload = self._read(head_length, deadline), self._read(payload_length, deadline)
        try:
            header = json.loads(head.decode("utf-8"), parse_int=parse_int)
        except (ValueError, RecursionError) as error:
            raise Malformed(f"not JSON: {str(error)[:100]}") from None
        if not isinstance(header, dict):
            raise Malformed("not a JSON object")
        lengths = checked_list(header.get("buffers"), MAX_ITEMS)
        if not all(type(n) is int and n >= 0 for n in lengths) or sum(lengths) != payload_length:
            raise Malformed("buffer lengths that do not add up")
        return header, wire.split_payload(payload, lengths)

    def _read(self, count, deadline):
        """count bytes of replies (the rest waits in the inbox); TimedOut at the deadline, Ended when it is gone."""
        while len(self._inbox) < count:
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimedOut()
            try:
                chunk = self._replies.get(timeout=min(left, POLL))
            except queue.Empty:
                if self.child.poll() is not None and self._replies.empty():
                    raise Ended() from None
                continue
            if chunk is None:
                self._replies.put(None)  # every later read ends too
                raise Ended()
            self._inbox += chunk
        data = bytes(self._inbox[:count])
        del self._inbox[:count]
        return data

    def _keep_output(self, chunk):
        if chunk:
            self.output += chunk
            del self.output[:-MAX_OUTPUT]
