"""Run a student's file in a process of its own, and use its objects from here as if they were local.

    with Sandbox("submissions/alice/model.py", timeout=10) as box:
        layer = box.module.Linear(4, 5)       # a proxy: the Linear object lives in the student's process
        y = layer.forward(x)                   # x is sent, the call runs there, y (an ndarray) comes back

Every attribute access, call and assignment on a proxy is a request over a pipe to the student's process, which
holds the real objects. Only data crosses (numbers, text, arrays of numbers, lists, tuples and dicts of these, and
handles to the student's objects); nothing is unpickled and every reply is checked. What goes wrong there comes back
as a StudentError (StudentNotImplemented is a NotImplementedError...), with .blame, the student's line; StudentExit
(sys.exit()), StudentTimeout (the process is killed, the next request starts a new one), StudentCrash,
StudentProtocolError (a malformed reply), StudentImportError (the file cannot be imported: every request raises it).

The process: its own process group and scratch folder, `python -I -B` (the kit is not on its path). Where the OS
grants them (Linux, macOS), limits on memory (not macOS), file size and CPU time, and no new process or thread.
As root (Docker, Gradescope), a fresh unprivileged uid of its own, whose processes and files are gone afterwards.
Otherwise it runs as you and can read and write your files.

client.py Sandbox; values.py what crosses, checked, and the proxies; errors.py the StudentError family;
process.py the process and its pipes; users.py the uids as root. The student's side runs from their text: wire.py
the messages, server.py its limits and the answers.
"""

from .client import Sandbox as Sandbox
from .client import default_limits as default_limits
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
from .process import limits_granted as limits_granted
from .users import SHARED_TEMP as SHARED_TEMP
from .users import UID_RANGE as UID_RANGE
from .users import claim_uid as claim_uid
from .users import interpreter_problem as interpreter_problem
from .users import kill_processes_of as kill_processes_of
from .users import processes_of as processes_of
from .users import release_uid as release_uid
from .users import running_as_root as running_as_root
