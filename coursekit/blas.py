"""How many threads NumPy's matrix products (the BLAS library: OpenBLAS, MKL, ...) may use.

At the sizes of the course's networks (batches of 64, layers of a few hundred units) one matrix product takes a
fraction of a millisecond: a second thread saves little, and on a machine whose cores are busy with other programs
BLAS threads spin waiting for each other. Measured on a 2-core machine with two busy programs beside it: one epoch
took 4.65 s with two BLAS threads and 1.38 s with one; on the same machine idle, one thread was still as fast. So
training and the checks run with DEFAULT_THREADS, and `--blas_threads N` gives more to whoever wants them.

    with blas_threads(1):
        ...   # every matrix product in here uses one thread
"""

import sys
from contextlib import contextmanager

DEFAULT_THREADS = 1
HELP = ("threads for NumPy's matrix products (default: 1, the fastest at these sizes, and by far on a busy machine; "
        "0 lets the BLAS library choose, usually one per core)")


@contextmanager
def blas_threads(count=DEFAULT_THREADS):
    """Limit the BLAS libraries NumPy has loaded to `count` threads inside the block; count 0 leaves them as they are.

    Uses threadpoolctl, which changes the limit of the libraries already loaded (environment variables such as
    OPENBLAS_NUM_THREADS only work when set before NumPy is imported). Without threadpoolctl: a warning, no limit.
    """
    if not count:
        yield
        return
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:
        print("Warning: threadpoolctl is not installed, so NumPy may use every core and run slowly on a busy machine. "
              "Install it with:  python -m pip install -r requirements.txt", file=sys.stderr)
        yield
        return
    with threadpool_limits(limits=count, user_api="blas"):
        yield
