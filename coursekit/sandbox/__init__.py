"""A student's file run in a process of its own (a fresh unprivileged user when root, with the limits the OS
grants), its objects used through proxies (`Sandbox(path).module.Linear(4, 5)`): only data crosses, every reply
checked. client.py the Sandbox and proxies; wire.py the messages and the student's end; process.py its pipes."""

from .client import Sandbox as Sandbox
from .client import default_limits as default_limits
from .errors import StudentError as StudentError
from .process import limits_granted as limits_granted
from .users import SHARED_TEMP as SHARED_TEMP
from .users import UID_RANGE as UID_RANGE
from .users import interpreter_problem as interpreter_problem
from .users import processes_of as processes_of
from .users import running_as_root as running_as_root
