"""A student's file run in a process of its own (as a fresh unprivileged user when root, with the limits the OS
grants), its objects used from here through proxies (`Sandbox(path).module.Linear(4, 5)`): only data crosses, and
every reply is checked. client.py Sandbox and the proxies; wire.py the messages, what crosses, and the student's end;
errors.py the StudentError family; process.py the process and its pipes; users.py the uids as root.
"""

from .client import Sandbox as Sandbox
from .client import default_limits as default_limits
from .errors import StudentError as StudentError
from .process import limits_granted as limits_granted
from .users import SHARED_TEMP as SHARED_TEMP
from .users import UID_RANGE as UID_RANGE
from .users import interpreter_problem as interpreter_problem
from .users import processes_of as processes_of
from .users import running_as_root as running_as_root
