"""What the student's process does to itself before any student code runs: lower its limits and confine itself with
Landlock. An unprivileged process can lower a limit or add a Landlock rule set, never undo either: the student's
code, which runs in it afterwards, cannot take them back. Standard library only: the student's process runs its text.
"""

import os
import sys


def apply_limits(limits):
    """Lower this process's limits ({"AS": bytes, "NPROC": count, ...}) for itself and what it starts; an
    unprivileged process can never raise them again. Each is tried alone: macOS refuses RLIMIT_AS ("current limit
    exceeds maximum limit"), Windows has none. Returns the names of the limits set."""
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


# Landlock (Linux 5.13 and later): what this process, and any it starts, may do with files, TCP and signals. The
# numbers are those of <linux/landlock.h>: system calls, rights, and the ABI versions that brought them.
LANDLOCK_CREATE_RULESET, LANDLOCK_ADD_RULE, LANDLOCK_RESTRICT_SELF = 444, 445, 446  # the same on every architecture
READ_RIGHTS = 1 << 0 | 1 << 2  # EXECUTE, READ_FILE; a folder also READ_DIR (1 << 3)
FS_RIGHTS = {1: (1 << 13) - 1, 2: 1 << 13, 3: 1 << 14, 5: 1 << 15}  # ABI -> rights it added (REFER, TRUNCATE, IOCTL)
PR_SET_NO_NEW_PRIVS = 38


def python_files():
    """The folders and files Python and NumPy may still need to read: the interpreter's libraries, site-packages,
    the system's shared libraries (an extension module loads them when first imported) and a few devices."""
    import sysconfig

    paths = [*sys.path, *sysconfig.get_paths().values(), sys.prefix, sys.exec_prefix, os.path.dirname(sys.executable),
             "/lib", "/lib64", "/usr/lib", "/usr/lib64", "/usr/local/lib", "/etc/ld.so.cache",
             "/dev/null", "/dev/zero", "/dev/urandom"]
    if sys.prefix != sys.base_prefix:  # a virtual environment: its base interpreter's standard library too
        paths += [os.path.join(sys.base_prefix, "lib"), os.path.join(sys.base_exec_prefix, "lib")]
    return [path for path in dict.fromkeys(paths) if path and os.path.exists(path)]


def landlock_abi():
    """The Landlock ABI version the kernel offers this process (0: none, or not Linux)."""
    if not sys.platform.startswith("linux"):
        return 0
    import ctypes

    libc = ctypes.CDLL(None, use_errno=True)
    libc.syscall.restype = ctypes.c_long
    version = libc.syscall(ctypes.c_long(LANDLOCK_CREATE_RULESET), None, ctypes.c_size_t(0), ctypes.c_uint32(1))
    return max(0, version)


def confine(readable, writable):
    """Landlock this process: read (and execute) only below `readable`, write only below `writable`, no TCP
    (ABI 4), no signals to processes outside (ABI 6); ptrace of outside processes is denied by any ABI.
    Returns the ABI version applied, 0 when the kernel (or a container's seccomp filter) offers none."""
    import ctypes

    abi = landlock_abi()
    if abi < 1:
        return 0
    libc = ctypes.CDLL(None, use_errno=True)
    libc.syscall.restype = ctypes.c_long

    def syscall(number, *args):
        return libc.syscall(ctypes.c_long(number), *args)

    handled = sum(rights for version, rights in FS_RIGHTS.items() if version <= abi)

    class RulesetAttr(ctypes.Structure):
        _fields_ = [("fs", ctypes.c_uint64), ("net", ctypes.c_uint64), ("scoped", ctypes.c_uint64)]

    class PathBeneath(ctypes.Structure):
        _pack_ = 1
        _fields_ = [("allowed", ctypes.c_uint64), ("parent_fd", ctypes.c_int32)]

    attr = RulesetAttr(handled, 0b11 if abi >= 4 else 0, 0b11 if abi >= 6 else 0)  # TCP bind, connect; signals, sockets
    size = 24 if abi >= 6 else 16 if abi >= 4 else 8
    ruleset = syscall(LANDLOCK_CREATE_RULESET, ctypes.byref(attr), ctypes.c_size_t(size), ctypes.c_uint32(0))
    if ruleset < 0:
        return 0
    try:
        for paths, rights in ((readable, READ_RIGHTS), (writable, handled)):
            for path in paths:
                try:
                    fd = os.open(path, os.O_PATH | os.O_CLOEXEC)
                except OSError:  # gone, or not ours to open: nothing to allow there
                    continue
                try:
                    allowed = rights | (1 << 3 if os.path.isdir(path) else 0)
                    if not os.path.isdir(path):
                        allowed &= (1 << 0 | 1 << 1 | 1 << 2 | 1 << 14 | 1 << 15)  # the rights a file can have
                    rule = PathBeneath(allowed & handled, fd)
                    if syscall(LANDLOCK_ADD_RULE, ctypes.c_int(ruleset), ctypes.c_int(1), ctypes.byref(rule),
                               ctypes.c_uint32(0)) < 0:
                        return 0
                finally:
                    os.close(fd)
        if libc.prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0:
            return 0
        if syscall(LANDLOCK_RESTRICT_SELF, ctypes.c_int(ruleset), ctypes.c_uint32(0)) < 0:
            return 0
    finally:
        os.close(ruleset)
    return abi
