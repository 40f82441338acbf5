"""Chapter 3's machinery, shared by both trees (students change nothing here): the task table (tasks.py), the
checks (checks.py, activation_checks.py), the run's steps (cli.py: the flags; run.py: the steps main.py calls;
train.py: one epoch; checkpoint.py: model.npz), MNIST (data.py, download.py), plots.py, the canvas (canvas.py,
digit_image.py) and diagnose.py (a run that does not learn)."""
