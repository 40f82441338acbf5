"""The machinery every chapter of the course shares, whatever its network: nothing here knows about MNIST.

- errors.py        KitError, a failure explained in plain words
- files.py         atomic writes: a crash never leaves half a file under its name
- student_code.py  import a student's model.py by path and blame errors on its lines
"""
