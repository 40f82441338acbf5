"""The BLAS thread count chosen by timing the training batches (coursekit/blas.py), and what it may change."""

import numpy as np
import pytest
from threadpoolctl import threadpool_info

from chapter03.common import data, train
from coursekit import blas


class FakeLibrary:
    """A BLAS library as threadpoolctl shows it, and a clock: a batch takes seconds[threads] of its time."""

    def __init__(self, seconds):
        self.seconds, self.threads, self.now, self.used = seconds, 1, 0.0, []

    def set_num_threads(self, threads):
        self.threads = threads

    def clock(self):
        return self.now

    def run(self, chooser, batches):
        for _ in chooser.timed(range(batches)):
            self.used.append(self.threads)
            self.now += self.seconds[self.threads]


@pytest.fixture
def library(monkeypatch):
    library = FakeLibrary({1: 1.0, 2: 1.0, 4: 1.0})
    monkeypatch.setattr(blas.time, "perf_counter", library.clock)
    return library


def test_the_fastest_count_is_chosen_and_followed_when_the_machine_changes(library):
    library.seconds = {1: 3.0, 2: 1.0, 4: 1.4}  # quiet: two threads are the fastest
    chooser = blas.ThreadChooser([library], 4)
    assert chooser.candidates == [1, 2, 4]
    library.run(chooser, 100)  # the first measurement tries every candidate by turns, 2 batches each time (the
    # first one not timed), twice, except a count far slower than the fastest (here 1 thread)
    assert library.used[:10] == [1, 1, 2, 2, 4, 4, 2, 2, 4, 4] and set(library.used[10:]) == {2}
    assert chooser.chosen == library.threads == 2
    # The measurement cost 2 * 2 + 4 * 0.4 seconds more than 2 threads would have: 2% of 280 batches of a second.
    assert abs(chooser.until_next + 90 - 280) <= 1
    library.seconds = {1: 1.2, 2: 3.0, 4: 9.0}  # busy: one thread; two threads now take longer than one did
    library.run(chooser, 30)  # so the next measurement comes at once
    assert chooser.chosen == library.threads == 1 and library.used[-1] == 1
    library.seconds = {1: 1.0, 2: 0.5, 4: 0.6}  # quiet again: one thread got faster, the next measurement says more
    library.run(chooser, blas.MOST_BETWEEN + 30)
    assert chooser.chosen == library.threads == 2


def test_measuring_again_costs_a_small_share_even_when_a_count_is_far_slower(library):
    library.seconds = {1: 1.0, 2: 10.0}
    chooser = blas.ThreadChooser([library], 2)
    library.run(chooser, 20000)
    assert library.used[:4] == [1, 1, 2, 2]  # the first measurement: two threads are not measured twice
    later = library.used[4:]
    extra = later.count(2) * (library.seconds[2] - library.seconds[1])
    assert later[-1] == 1 and extra / len(later) < 2 * blas.BUDGET  # within the budget, give or take a measurement


def test_the_batches_are_given_unchanged_and_a_forced_count_is_kept():
    batches = list(range(0, 1000, 7))
    with blas.blas_threads(0):
        assert list(blas.fastest_threads(iter(batches))) == batches
    with blas.blas_threads(1):
        assert blas.chooser is None and list(blas.fastest_threads(batches)) == batches
        assert blas_threads_now() == {1}
    assert blas.chooser is None and list(blas.fastest_threads(batches)) == batches  # outside: nothing is timed


def blas_threads_now():
    return {pool["num_threads"] for pool in threadpool_info() if pool["user_api"] == "blas"}


def train_an_epoch(solution, mnist, threads):
    model = solution.MLP(784, [64, 32], 10, rng=np.random.default_rng(0))
    optimizer = train.SGD(model.parameters(), 0.01, 0.9)
    with blas.blas_threads(threads):
        train.train_one_epoch(model, solution.CrossEntropyLoss(), optimizer, mnist.train_images[:6400],
                              mnist.train_labels[:6400], 64, np.random.default_rng([0, 1]), skip_input_gradient=True)
        accuracy = train.evaluate(model, solution.CrossEntropyLoss(), mnist.val_images, mnist.val_labels)[1]
    return [param.data for param in model.parameters()], accuracy


def test_the_weights_after_an_epoch_hardly_depend_on_the_thread_count(solution, shared_mnist):
    """The same thread count gives the same weights, bit for bit. Across counts they are equal where the BLAS
    library computes each product the same way whatever its threads; OpenBLAS 0.3 (numpy's own) does not: with 1 and
    2 threads about a fifth of the elements of a product differ in their last bit, so after 100 batches the weights
    differ by about 1e-8 (measured; the values are about 0.1), and the accuracy hardly ever."""
    if max(blas_threads_now()) < 2:
        pytest.skip("NumPy's BLAS library uses one thread here")
    mnist = data.load_mnist(shared_mnist)
    one, one_accuracy = train_an_epoch(solution, mnist, 1)
    again, again_accuracy = train_an_epoch(solution, mnist, 1)
    two, two_accuracy = train_an_epoch(solution, mnist, 2)
    assert all(np.array_equal(a, b) for a, b in zip(one, again)) and one_accuracy == again_accuracy
    for a, b in zip(one, two):
        np.testing.assert_allclose(a, b, rtol=0, atol=1e-6)
    assert abs(one_accuracy - two_accuracy) <= 2 / len(mnist.val_labels)
