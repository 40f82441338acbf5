"""NumPy's BLAS thread count, chosen by timing training batches at 1, 2, 4, ... threads, measured again from time to
time (on a busy 2-core machine an epoch took 1.34 s with one thread, 11.3 s with two). blas_threads(N) forces N."""

import math
import sys
import time
from contextlib import contextmanager

DEFAULT_THREADS = 0  # chosen by timing

# A measurement: blocks of batches at each count by turns, ROUNDS each. A block lasts BLOCK_SECONDS, longer than the
# turns a busy system gives programs on a core to see the waiting too; its first batch (after the switch) is not timed.
BLOCK_SECONDS = 0.03
ROUNDS = 2
SLOWER = 1.5  # a count whose batches take this many times the fastest's is not measured again
BUDGET = 0.02  # measuring again costs at most this share of the time since the last measurement
FEWEST_BETWEEN, MOST_BETWEEN = 200, 5000  # batches between two measurements, at least and at most
WATCH_SECONDS = 0.1  # between measurements, the chosen count's batches are watched over windows this long

chooser = None  # the ThreadChooser of the innermost blas_threads(0) block; None elsewhere


@contextmanager
def blas_threads(count=DEFAULT_THREADS):
    """NumPy's BLAS uses `count` threads inside the block (0: as fastest_threads finds). threadpoolctl, because
    OPENBLAS_NUM_THREADS and the like only work before NumPy is imported."""
    global chooser
    try:
        from threadpoolctl import ThreadpoolController
    except ImportError:
        print("Warning: threadpoolctl is not installed, so NumPy's matrix products may run slowly on a busy machine. "
              "Install it with:  python -m pip install -r requirements.txt", file=sys.stderr)
        yield
        return
    libraries = ThreadpoolController().select(user_api="blas")
    most = max([library.num_threads for library in libraries.lib_controllers], default=1)
    outer = chooser
    with libraries.limit(limits=count or 1, user_api="blas"):
        chooser = ThreadChooser(libraries.lib_controllers, most) if not count and most > 1 else None
        try:
            yield
        finally:
            chooser = outer


def fastest_threads(batches):
    """The items of `batches`; inside blas_threads(0) the time between two (a batch's work) is measured."""
    yield from batches if chooser is None else chooser.timed(batches)


class ThreadChooser:
    """The count of lowest mean batch time: first of all candidates (1, 2, 4, ..., most), later of the chosen and its
    neighbours; measured again when the last measurement's cost is BUDGET of the time since, or as `watch` says."""

    def __init__(self, libraries, most):
        self.libraries = libraries
        self.candidates = sorted({most, *(2**i for i in range(most.bit_length()) if 2**i < most)})
        self.chosen = 1
        self.plan = self.candidates * ROUNDS  # the thread counts of the measurement's blocks to come
        self.block, self.times = [], {}  # the block under way: seconds of its batches; threads -> (seconds, batches)
        self.spent, self.batches = 0.0, 0  # seconds and number of all the measurement's batches
        self.until_next = 0  # batches at the chosen count before the next measurement

    def use(self, threads):
        for library in self.libraries:
            library.set_num_threads(threads)

    def timed(self, batches):
        for batch in batches:
            measuring = not self.until_next
            if measuring and not self.plan:
                i = self.candidates.index(self.chosen)
                self.plan = self.candidates[max(i - 1, 0) : i + 2] * ROUNDS
            if measuring and not self.block:
                self.use(self.plan[0])
            started = time.perf_counter()
            yield batch
            seconds = time.perf_counter() - started
            if measuring:
                self.block.append(seconds)
                if len(self.block) > 1 and sum(self.block[1:]) >= BLOCK_SECONDS:
                    self.end_block()
            else:
                self.watch(seconds)

    def watch(self, seconds):
        """Measure again at once when the chosen count's batches take longer than the runner-up's did."""
        self.until_next -= 1
        self.window = [self.window[0] + seconds, self.window[1] + 1]
        if self.window[0] >= WATCH_SECONDS:
            if self.window[0] / self.window[1] > self.runner_up:
                self.until_next = 0
            self.window = [0.0, 0]

    def end_block(self):
        seconds, batches = self.times.get(self.plan[0], (0.0, 0))
        self.times[self.plan.pop(0)] = (seconds + sum(self.block[1:]), batches + len(self.block) - 1)
        self.spent, self.batches = self.spent + sum(self.block), self.batches + len(self.block)
        self.block = []
        means = {threads: seconds / batches for threads, (seconds, batches) in self.times.items()}
        fastest = min(means, key=means.get)
        # A count far slower than the fastest is not measured again; nor the fastest, when no other one is left.
        self.plan = [threads for threads in self.plan if means.get(threads, 0) <= SLOWER * means[fastest]]
        if not set(self.plan) <= {fastest}:
            return
        # The end of a measurement: the fastest count until the next one.
        self.plan, self.chosen, self.window = [], fastest, [0.0, 0]
        self.runner_up = min([mean for threads, mean in means.items() if threads != fastest], default=math.inf)
        self.use(fastest)
        cost = self.spent - means[fastest] * self.batches
        self.until_next = min(max(int(cost / BUDGET / means[fastest]), FEWEST_BETWEEN), MOST_BETWEEN)
        self.times, self.spent, self.batches = {}, 0.0, 0
