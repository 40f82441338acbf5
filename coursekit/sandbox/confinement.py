"""What the student's process does to itself before any student code runs: lower its limits, which an unprivileged
process can never raise again. Standard library only: the student's process runs its text (process.py).
"""


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
