"""Run a student's file in a process of its own, and use its objects from here as if they were local.

    with Sandbox("submissions/alice/model.py", timeout=10) as box:
        layer = box.module.Linear(4, 5)       # a proxy: the Linear object lives in the student's process
        layer.W.data = np.ones((4, 5))         # the array is sent there
        y = layer.forward(x)                   # x is sent, the call runs there, y (an ndarray) comes back

Every attribute access, call and attribute assignment on a proxy is a request over a pipe to the student's process
(server.py), which holds the real objects. Only data crosses: arrays of numbers, numbers, text, lists, tuples and
dicts of these, NumPy dtypes, and handles to the student's objects (which come back as proxies). Nothing is
unpickled, and every reply is validated: anything malformed fails that one call, never the caller.
Code that computes expected values and verdicts therefore runs here, where the student's code cannot reach it.

What goes wrong in the student's process comes back as an exception of this process:
- StudentError (and a subclass of the builtin type it stands for: StudentNotImplemented is a NotImplementedError,
  the "ValueError" class a ValueError...), with .blame: the line of the student's file where it was raised;
- StudentExit when the code called sys.exit() or exit(); the process goes on;
- StudentTimeout when a call did not answer in time: the process is killed and the next request starts a new one,
  which imports the file again; proxies of the killed process raise DeadObjectError;
- StudentCrash when the process ended (os._exit(), a crash, a signal), StudentProtocolError for a malformed reply.
A file that cannot be imported gives one StudentImportError, kept in .import_error, raised by every request.

Attributes that reading runs no code for (plain values of an object's own __dict__) come with each object as a
snapshot, read here without a request until the student's code runs again; assignments that run no code go with
the next request. Semantics do not change, requests drop by half (a check's loop over model.parameters()).

The process, in either mode: its own session and scratch folder (a copy of the student's file, its working
directory), started with `python -I -B -c <the server's text>` (the kit's folder is not on its path), limits on
memory, file size and CPU time, and no new process or thread at all (RLIMIT_NPROC 1), so it leaves nothing running.
- On Linux 5.13 or later, Landlock confines it before the student's code runs: it may read only Python's own files
  (its libraries, site-packages, the system's shared libraries) and write only its scratch folder; from ABI 4 it
  has no TCP, from ABI 6 it cannot signal a process outside it; it can never ptrace one. (.landlock: the ABI, or 0.)
- Run as root (Docker, Gradescope), it also runs as an unprivileged user of its own (a fresh uid and gid from a high
  range for each sandbox): it cannot signal or read another sandbox, nor read or write any file other users
  cannot; before the student's code runs it checks that it cannot read or write the `probe` paths (the solution,
  the checks, the results), and refuses to go on if it can. Afterwards every process of that uid is killed and its
  files in the shared temporary folders are deleted.
- Not run as root and without Landlock (macOS, older Linux), it runs as you: it can read and write every file you
  can (the solution and the checks too), and signal your processes.

The modules, the grader's side first:
- client.py       Sandbox: starts, imports, requests, what a failure costs, snapshots of attributes
- proxies.py      RemoteObject, RemoteMethod: the student's objects as used here
- values.py       encoding what goes there, decoding (and checking) what comes back
- validation.py   the checks of everything that comes from the student's process; the filter of its text
- errors.py       the StudentError family, built from the replies; the diagnosis of a file that cannot be imported
- process.py      one student's process: started, its pipes, stopped with everything it started
- users.py        as root: a fresh uid for each sandbox, its processes killed and its files removed afterwards
and the student's side, which runs from their text in the student's process (standard library only):
- wire.py         the messages' framing and limits (the grader imports it too)
- confinement.py  limits, Landlock and the probe, before any student code runs
- server.py       the student's module and objects, answering requests
"""

# What the kit and its tests use, re-exported (`import X as X`): the sandbox, its exceptions, what it guarantees on
# this machine, and the users it runs as (their uids, their processes, where their files may be left).
from .client import Sandbox as Sandbox
from .client import default_limits as default_limits
from .confinement import landlock_abi as landlock_abi
from .errors import Blame as Blame
from .errors import DeadObjectError as DeadObjectError
from .errors import StudentCrash as StudentCrash
from .errors import StudentError as StudentError
from .errors import StudentExit as StudentExit
from .errors import StudentImportError as StudentImportError
from .errors import StudentNotImplemented as StudentNotImplemented
from .errors import StudentProtocolError as StudentProtocolError
from .errors import StudentSyntaxError as StudentSyntaxError
from .errors import StudentTimeout as StudentTimeout
from .users import SHARED_TEMP as SHARED_TEMP
from .process import limits_granted as limits_granted
from .users import UID_RANGE as UID_RANGE
from .users import claim_uid as claim_uid
from .users import interpreter_problem as interpreter_problem
from .users import kill_processes_of as kill_processes_of
from .users import processes_of as processes_of
from .users import release_uid as release_uid
from .users import running_as_root as running_as_root
from .validation import REMOVED as REMOVED
