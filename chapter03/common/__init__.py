"""Chapter 3's machinery, shared by both trees (students change nothing here): the task table (tasks.py), the
checks (checks.py, activation_checks.py), the run (cli.py, run.py, train.py, checkpoint.py), MNIST (data.py,
download.py, verify.py), plots, the canvas (canvas.py, digit_image.py) and diagnose.py."""
