"""Grading a batch: `--jobs` submissions at a time, each in a worker process of the grader's own, the grades in the
order of the PATHs. Workers are processes, not threads (the checks set process-wide state: NumPy's warnings, the
seed), forked with the kit loaded before any student's code ran. Where there is no fork (Windows), one at a time here.
"""

import concurrent.futures
import multiprocessing
import multiprocessing.util

from ..errors import KitError
from ..sandbox import users
from .assignment import given_code
from .submission import grade_submission, new_sandbox

_job = None  # (assignment, the given classes compiled) of grade_in_parallel, for the workers it forks
_next = None  # in a worker: the sandbox it started for the next submission it will be given


def can_fork():
    return not users.WINDOWS and "fork" in multiprocessing.get_all_start_methods()


def grade_in_parallel(assignment, labels, timeout, seed, jobs, lang):
    """Yield the grade of each label, in order, each as soon as it and those before it are ready."""
    global _job
    _job = (assignment, given_code(assignment))
    if not can_fork():
        for label in labels:
            yield grade_submission(*_job, label, timeout, seed, lang)
        return
    fork = multiprocessing.get_context("fork")
    with concurrent.futures.ProcessPoolExecutor(min(jobs, len(labels)), mp_context=fork, initializer=started) as pool:
        try:
            yield from pool.map(grade_in_worker, labels, *([item] * len(labels) for item in (timeout, seed, lang)))
        except concurrent.futures.process.BrokenProcessPool:  # only code that could signal it: not as root
            raise KitError("A worker of the grader was killed (by a submission? not run as root, their code can "
                           "signal your processes): grade as root in a container, as Gradescope does.") from None


def grade_in_worker(label, timeout, seed, lang):
    """Grade one submission in a worker, then start the sandbox of the next (its Python and NumPy load while the
    worker waits for it: about a third of the time a submission takes)."""
    global _next
    box, _next = _next, None
    grade = grade_submission(*_job, label, timeout, seed, lang, box)
    _next = new_sandbox(_job[0], timeout)
    _next.start()
    return grade


def started():
    """In each worker, once: when it ends, the sandbox it started for a next submission that never came goes too."""
    multiprocessing.util.Finalize(None, lambda: _next and _next.close(), exitpriority=10)
