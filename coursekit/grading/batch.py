"""Grading a batch: `--jobs` submissions at a time, each in a worker process of the grader's own, the grades in the
order of the PATHs. Workers are processes, not threads (the checks set process-wide state: NumPy's warnings, the
seed), forked with the kit loaded before any student's code ran. Where there is no fork (Windows), one at a time here.
"""

import concurrent.futures
import multiprocessing
import multiprocessing.util

from ..sandbox import users
from .assignment import given_code
from .submission import Grade, grade_submission, new_sandbox, student_name

_job = None  # (assignment, the given classes compiled) of grade_in_parallel, for the workers it forks
_next = None  # in a worker: the sandbox it started for the next submission it will be given


def can_fork():
    return not users.WINDOWS and "fork" in multiprocessing.get_all_start_methods()


def grade_in_parallel(assignment, labels, timeout, seed, jobs, lang):
    """Yield the grade of each label, in order, each as soon as it and those before it are ready. A worker that dies
    (killed by a submission that could signal it: not as root, without Landlock) costs the grades in progress: those
    are graded again one at a time, and the one that kills its worker alone scores 0."""
    global _job
    _job = (assignment, given_code(assignment))
    if not can_fork():
        for label in labels:
            yield grade_submission(*_job, label, timeout, seed, lang)
        return
    results, suspects, position = {}, set(), 0
    while position < len(labels):
        remaining = [label for label in labels if label not in results]
        alone = [label for label in remaining if label in suspects][:1]
        batch = alone or remaining
        pool = concurrent.futures.ProcessPoolExecutor(1 if alone else min(jobs, len(batch)), initializer=started,
                                                      mp_context=multiprocessing.get_context("fork"))
        futures = {label: pool.submit(grade_in_worker, label, timeout, seed, lang) for label in batch}
        try:
            for label, future in futures.items():
                results[label] = future.result()
                while position < len(labels) and labels[position] in results:
                    yield results[labels[position]]
                    position += 1
        except concurrent.futures.process.BrokenProcessPool:
            done = {label: future for label, future in futures.items() if label not in results and finished(future)}
            results.update({label: future.result() for label, future in done.items()})
            if alone:
                results[alone[0]] = killed(alone[0])
            suspects.update(label for label in futures if label not in results)
        finally:
            pool.shutdown(wait=True, cancel_futures=True)
        while position < len(labels) and labels[position] in results:
            yield results[labels[position]]
            position += 1


def finished(future):
    return future.done() and not future.cancelled() and future.exception() is None


def killed(label):
    grade = Grade(label, student_name(label))
    grade.problems.append("the grader's process that graded it was killed, each time it was graded (by the "
                          "submission's code?): it scores 0")
    return grade


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
