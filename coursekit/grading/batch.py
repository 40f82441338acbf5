"""Grading a batch: `--jobs` submissions at a time, each in a worker process of the grader's own, the grades in the
order of the PATHs; when a worker dies, the submissions it was grading are graded again, one at a time.
"""

import concurrent.futures
import multiprocessing
import multiprocessing.util

from ..sandbox import users
from .assignment import Reference
from .submission import Grade, grade_submission, new_sandbox, student_name


def grade_in_parallel(assignment, labels, timeout, seed, jobs, probe, lang):
    """Grade each label, `jobs` at a time, each in a worker process of the grader's own; yields the grades in the
    order of labels, each as soon as it and those before it are ready.

    Workers are processes, not threads: the checks set process-wide state (NumPy's warnings, the seed), which two
    threads would mix up. They are forked, so they start with the kit already loaded (before any student's code ran)
    and with the assignment, which holds functions that could not be sent to them. A worker that dies (a
    submission that could signal it killed it: not as root, on a kernel without Landlock's signal scoping) costs
    the grades in progress; those submissions are graded again one at a time, and the one that kills its worker
    alone scores 0.
    """
    global _job
    _job = (assignment, Reference.of(assignment))
    if not can_fork():  # Windows: one at a time, here (the checks run here in any case; the student's code never)
        for label in labels:
            yield grade_submission(assignment, _job[1], label, timeout, seed, probe, lang)
        return
    results, suspects, position = {}, set(), 0
    while True:
        while position < len(labels) and labels[position] in results:
            yield results[labels[position]]
            position += 1
        if position == len(labels):
            return
        remaining = [label for label in labels if label not in results]
        alone = [label for label in remaining if label in suspects][:1]
        batch = alone or remaining
        context = multiprocessing.get_context("fork")
        pool = concurrent.futures.ProcessPoolExecutor(1 if alone else min(jobs, len(batch)), mp_context=context,
                                                      initializer=worker_started)
        futures = [(label, pool.submit(grade_in_worker, label, timeout, seed, probe, lang)) for label in batch]
        try:
            for label, future in futures:
                results[label] = future.result()
                while position < len(labels) and labels[position] in results:
                    yield results[labels[position]]
                    position += 1
        except concurrent.futures.process.BrokenProcessPool:
            unfinished = [label for label, future in futures if label not in results and not finished(future)]
            results.update({label: future.result() for label, future in futures
                            if label not in results and finished(future)})
            if alone:
                results[alone[0]] = killed(alone[0])
            suspects.update(unfinished)
        finally:
            pool.shutdown(wait=True, cancel_futures=True)


def can_fork():
    """Workers start by fork (with the kit loaded, before any student's code ran): not on Windows."""
    return not users.WINDOWS and "fork" in multiprocessing.get_all_start_methods()


def finished(future):
    return future.done() and not future.cancelled() and future.exception() is None


def killed(label):
    grade = Grade(label, student_name(label))
    grade.problems.append("the grader's process that graded it was killed, each time it was graded (by the "
                          "submission's code?): it scores 0")
    return grade


_job = None  # (assignment, reference) of grade_in_parallel, for the workers it forks
_next = None  # in a worker: the sandbox it started for the next submission it will be given


def grade_in_worker(label, timeout, seed, probe, lang):
    """Grade one submission in a worker, then start the sandbox of the next (its Python and NumPy load while the
    worker waits for it: about a third of the time a submission takes)."""
    global _next
    assignment, reference = _job
    box, _next = _next, None
    grade = grade_submission(assignment, reference, label, timeout, seed, probe, lang, box)
    _next = new_sandbox(assignment, reference, timeout, probe)
    _next.start()
    return grade


def worker_started():
    """In each worker, once: when it ends, the sandbox it started for a next submission that never came goes too."""
    multiprocessing.util.Finalize(None, close_next, exitpriority=10)


def close_next():
    if _next is not None:
        _next.close()
