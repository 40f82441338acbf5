"""The machinery every chapter of the course shares, whatever its network: nothing here knows about MNIST.

- errors.py        KitError, a failure explained in plain words
- files.py         atomic writes: a crash never leaves half a file under its name
- student_code.py  import a student's model.py by path and blame errors on its lines
- sandbox/         a student's file run in a process of its own (an unprivileged user's, as root), used from the
                   grader through proxies: client.py (Sandbox), proxies.py, values.py, validation.py, errors.py,
                   process.py, users.py; the student's side: wire.py, confinement.py (limits, Landlock), server.py
- grading/         grade.py's machinery: command_line.py, assignment.py (points, the run's seed, the reference),
                   submission.py (one submission's checks and verdicts), batch.py (--jobs), results.py (table, CSV,
                   Gradescope's results.json), protection.py (what keeps the kit and the results from the students)
"""
