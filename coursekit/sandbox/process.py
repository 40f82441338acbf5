"""The student's process, from the grader's side: started in a scratch folder of its own (as a user of its own when
given one), with the server's code as text; messages over its pipes, never blocking on it; stopped with every
process it started.

It runs `python -I -B -c SERVER_SOURCE REQUEST_FD REPLY_FD`: the kit's folder is not on its path, and it imports
nothing from it. SERVER_SOURCE holds the texts of wire.py, confinement.py and server.py, read here once when the kit
is imported (before any student's code ran); in the student's process each becomes the module of its name, so that
their imports of each other work there as they do here. Its own session makes it and whatever it starts one process
group, killed as one.
"""

import contextlib
import json
import os
import select
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from ..errors import KitError
from . import confinement, server, wire
from .users import kill_processes_of
from .validation import MAX_MESSAGE, Malformed, bounded_int, checked_list, is_int

MAX_OUTPUT = 4000  # bytes kept of the end of what the student's process printed
POLL = 0.1  # seconds between checks that the student's process is still alive while waiting for it

SERVER_MODULES = (wire, confinement, server)  # each imports only the standard library and those before it
BOOTSTRAP = """\
import sys, types
for name, text in {texts!r}:
    module = types.ModuleType(name)
    module.__package__ = {package!r}
    sys.modules[name] = module
    exec(compile(text, "<" + name + ">", "exec"), module.__dict__)
sys.modules[{server!r}].serve(int(sys.argv[1]), int(sys.argv[2]))
"""
SERVER_SOURCE = BOOTSTRAP.format(
    texts=[(module.__name__, Path(module.__file__).read_text(encoding="utf-8")) for module in SERVER_MODULES],
    package=__package__, server=server.__name__)


class TimedOut(Exception):
    """The student's process did not answer before the deadline."""


class Ended(Exception):
    """The student's process ended (or closed its end of a pipe)."""


SIGNAL_MEANINGS = {"SIGKILL": ": killed, or out of memory", "SIGSEGV": ": a crash in native code",
                   "SIGXCPU": ": out of CPU time", "SIGXFSZ": ": it wrote a file larger than allowed",
                   "SIGABRT": ": aborted"}


def describe_status(status):
    """An exit status of subprocess (negative: killed by a signal) in words."""
    if status is None:
        return "an unknown status"
    if status >= 0:
        return f"exit status {status}"
    try:
        name = signal.Signals(-status).name
    except ValueError:
        return f"signal {-status}"
    return f"signal {-status} ({name}{SIGNAL_MEANINGS.get(name, '')})"


def cannot_start(why, uid):
    """The message of a student's process that cannot start, run as uid (None: as the grader)."""
    text = f"Cannot start the sandbox's Python ({sys.executable}): {why}."
    if uid is not None:
        text += (f" It runs as an unprivileged user (uid {uid}), which must be able to run the interpreter "
                 f"and read its libraries and NumPy: e.g. `chmod o+x /root` when Python is in /root/.pyenv "
                 f"(traverse only), or install Python and NumPy outside /root (apt's python3, a venv in /opt).")
    return text


def ready_state(header, uid, confine):
    """(the Landlock ABI it runs under, the probe paths it can reach) from the reply of a student's process to
    "start", run as uid (None: as the grader); KitError when it must not go on: it could not set itself up, it is
    not confined as `confine` promised, or, run as a user of its own, it can reach a probe path."""
    if "setup_error" in header:
        raise KitError(cannot_start(str(header["setup_error"])[:MAX_MESSAGE], uid))
    landlock = header.get("landlock") if is_int(header.get("landlock")) else 0
    if confine and uid is None and not landlock and confinement.landlock_abi():
        # the grader says the student's code is confined: it must be
        raise KitError("This kernel offers Landlock, but the sandbox could not apply it: grade as root, or "
                       "find out what refuses it (a container's seccomp profile?).")
    exposed = sorted(set(header.get("readable", [])) | set(header.get("writable", [])))
    if exposed and uid is not None:
        raise KitError(f"The sandbox user (uid {uid}) can read or write {', '.join(exposed)}: student code "
                       f"could read the solution or change the kit. Make them private to their owner "
                       f"(chmod o-rwx on the folder holding them) and grade again.")
    return landlock, exposed  # without a user of its own, what it can reach is only reported


class StudentProcess:
    """One student's process: its scratch folder, its pipes (request, reply, and its output), what it printed.

    uid: the user (and group) it runs as; None: as the grader. KitError when it cannot be started.
    """

    def __init__(self, uid=None):
        self.uid = uid
        self.output = bytearray()  # the end of what it printed
        self._inbox = bytearray()  # bytes read from the reply pipe, not used yet
        try:
            self.scratch = Path(tempfile.mkdtemp(prefix="sandbox-"))
            if uid is not None:
                os.chown(self.scratch, uid, uid)
        except OSError as error:
            raise KitError(f"Cannot prepare the sandbox's folder in {tempfile.gettempdir()}: "
                           f"{error.strerror or error}.") from None
        request_r, request_w = os.pipe()
        reply_r, reply_w = os.pipe()
        output_r, output_w = os.pipe()
        user = {"user": uid, "group": uid, "extra_groups": []} if uid is not None else {}
        env = {"PATH": "/usr/local/bin:/usr/bin:/bin", "HOME": str(self.scratch), "TMPDIR": str(self.scratch),
               "LC_ALL": "C.UTF-8", "OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
        try:
            self.child = subprocess.Popen(
                [sys.executable, "-I", "-B", "-c", SERVER_SOURCE, str(request_r), str(reply_w)],
                pass_fds=(request_r, reply_w), stdin=subprocess.DEVNULL, stdout=output_w,
                stderr=output_w, cwd=self.scratch, env=env, start_new_session=True, umask=0o077, **user)
        except OSError as error:
            for fd in (request_r, request_w, reply_r, reply_w, output_r, output_w):
                os.close(fd)
            shutil.rmtree(self.scratch, ignore_errors=True)
            raise KitError(cannot_start(f"{error.strerror or error}", uid)) from None
        for fd in (request_r, reply_w, output_w):
            os.close(fd)
        self._fds = {"request": request_w, "reply": reply_r, "output": output_r}
        for fd in self._fds.values():
            os.set_blocking(fd, False)

    def stop(self):
        """Kill it (its group, and with a uid of its own every process of it), delete its folder; its exit status."""
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.child.pid, signal.SIGKILL)  # its own session: pgid == pid
        if self.uid is not None:
            kill_processes_of(self.uid)
        status = None
        with contextlib.suppress(subprocess.TimeoutExpired):  # SIGKILL cannot be caught: unless the kernel
            status = self.child.wait(timeout=10)  # holds it (a hung disk), it is gone at once
        for fd in self._fds.values():
            os.close(fd)
        self._fds = {}
        shutil.rmtree(self.scratch, ignore_errors=True)  # in the temporary folder; never the student's fault
        return status

    def exit_status(self):
        """The exit status of a process that ended by itself (None if it is still going after a second)."""
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.child.wait(timeout=1.0)  # the pipe closed an instant before the process was gone
        return self.child.poll()

    def last_line(self):
        """The last line it printed, or ''."""
        while "output" in self._fds and self._drain_output():  # what is still in the pipe: it may end with it
            pass
        lines = self.output.decode("utf-8", errors="replace").strip().splitlines()
        return lines[-1].strip() if lines else ""

    def place_file(self, name, source):
        """The student's file (its bytes), into the scratch folder, where the process imports it."""
        model = self.scratch / name
        try:  # a new file, never through a link: the folder is the student's user's (no code of theirs ran yet)
            fd = os.open(model, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
            with open(fd, "wb") as file:
                file.write(source)
            if self.uid is not None:
                os.chown(model, self.uid, self.uid)
        except OSError as error:
            raise KitError(f"Cannot write {model}: {error.strerror or error}.") from None

    # -- the pipes

    def send(self, data, deadline):
        """Write a message; TimedOut at the deadline, Ended when the process is gone."""
        view = memoryview(data)
        while view:
            try:
                view = view[os.write(self._fds["request"], view):]
            except BlockingIOError:  # the pipe is full: the process is not reading (yet)
                self._wait(self._fds["request"], True, deadline)
            except BrokenPipeError:
                raise Ended() from None

    def receive(self, deadline):
        """One message from the student's process: (header dict, buffers), validated in size and form (Malformed)."""
        head_length, payload_length = wire.FRAME.unpack(self._read(wire.FRAME.size, deadline))
        if head_length > wire.MAX_HEADER or payload_length > wire.MAX_PAYLOAD:
            raise Malformed(f"a message of {head_length + payload_length} bytes")
        head, payload = self._read(head_length, deadline), self._read(payload_length, deadline)
        try:
            header = json.loads(head.decode("utf-8"), parse_int=bounded_int)
        except (ValueError, RecursionError) as error:
            raise Malformed(f"not JSON: {str(error)[:100]}") from None
        if not isinstance(header, dict):
            raise Malformed("not a JSON object")
        lengths = checked_list(header.get("buffers"), wire.MAX_ITEMS)
        if not all(is_int(n) and n >= 0 for n in lengths) or sum(lengths) != payload_length:
            raise Malformed("buffer lengths that do not add up")
        return header, wire.split_payload(payload, lengths)

    def _read(self, count, deadline):
        """count bytes from the reply pipe; what came beyond them waits in the inbox for the next message."""
        while len(self._inbox) < count:
            try:
                chunk = os.read(self._fds["reply"], 1 << 20)
            except BlockingIOError:  # nothing yet: wait (one select per reply, not one per read)
                self._wait(self._fds["reply"], False, deadline)
                continue
            if not chunk:
                raise Ended()
            self._inbox += chunk
        data = bytes(self._inbox[:count])
        del self._inbox[:count]
        return data

    def _wait(self, fd, writing, deadline):
        """Until fd can be read (or written), reading the student's output meanwhile. TimedOut at the deadline,
        Ended when the process is gone (even if something of it keeps the pipe open)."""
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimedOut()
            readers = [fd] if not writing else []
            if "output" in self._fds:
                readers.append(self._fds["output"])
            ready_r, ready_w, _ = select.select(readers, [fd] if writing else [], [], min(left, POLL))
            if self._fds.get("output") in ready_r:
                self._drain_output()
            if fd in ready_r or fd in ready_w:
                return
            if not ready_r and not ready_w and self.child.poll() is not None:
                raise Ended()

    def _drain_output(self):
        """Read what it printed since the last call (its end is kept); False when there was nothing to read."""
        try:
            chunk = os.read(self._fds["output"], 1 << 16)
        except BlockingIOError:
            return False
        if not chunk:  # the process closed it (or ended): stop watching it
            os.close(self._fds.pop("output"))
            return False
        self.output += chunk
        del self.output[:-MAX_OUTPUT]
        return True
