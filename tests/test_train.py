"""The training machinery on small synthetic data: optimizer, epoch loop, divergence, checkpoints, command line."""

import numpy as np
import pytest

from chapter03.common import checkpoint, train
from chapter03.common.cli import parse_args
from chapter03.common.run import Config
from conftest import CHAPTER
from coursekit.errors import KitError
from coursekit.files import write_atomically


def synthetic_digits(count, rng):
    """Two easy classes of 784-pixel uint8 images: ink in the left half, or in the right half."""
    labels = rng.integers(0, 2, count)
    images = rng.integers(0, 60, (count, 28, 28)).astype(np.uint8)
    for image, label in zip(images, labels):
        image[:, 14 * label : 14 * label + 14] += 150
    return images.reshape(count, 784), labels


class FakeParameter:
    def __init__(self, data, grad):
        self.data, self.grad = np.array(data, dtype=np.float32), np.array(grad, dtype=np.float32)


def test_sgd_without_momentum_is_plain_gradient_descent():
    param = FakeParameter([1.0, 2.0], [0.5, -1.0])
    train.SGD([param], lr=0.1, momentum=0.0).step()
    np.testing.assert_allclose(param.data, [0.95, 2.1])


def test_sgd_momentum_accumulates_velocity():
    param = FakeParameter([0.0], [1.0])
    optimizer = train.SGD([param], lr=0.1, momentum=0.5)
    optimizer.step()  # v = -0.1, p = -0.1
    param.grad = np.array([1.0], dtype=np.float32)
    optimizer.step()  # v = 0.5 * -0.1 - 0.1 = -0.15, p = -0.25
    np.testing.assert_allclose(optimizer.velocities[0], [-0.15])
    np.testing.assert_allclose(param.data, [-0.25])


def test_standardize_uses_the_mnist_mean_and_std():
    out = train.standardize(np.array([[0, 255]], dtype=np.uint8), np.empty((1, 2), dtype=np.float32))
    np.testing.assert_allclose(out, [[-train.MNIST_MEAN / train.MNIST_STD, (1 - train.MNIST_MEAN) / train.MNIST_STD]],
                               rtol=1e-6)
    assert out.dtype == np.float32


def run_epochs(solution, seed, epochs=3, lr=0.05, momentum=0.9):
    rng = np.random.default_rng(123)
    images, labels = synthetic_digits(600, rng)
    model = solution.MLP(784, [32], 2, rng=np.random.default_rng(seed))
    optimizer = train.SGD(model.parameters(), lr, momentum)
    losses = [train.train_one_epoch(model, solution.CrossEntropyLoss(), optimizer, images, labels, 32,
                                    np.random.default_rng([seed, epoch]))[0] for epoch in range(epochs)]
    return model, losses


def test_training_learns_an_easy_problem_and_is_reproducible(solution):
    model, losses = run_epochs(solution, seed=0)
    assert losses[-1] < losses[0] / 2
    rng = np.random.default_rng(5)
    images, labels = synthetic_digits(200, rng)
    _, accuracy, probs = train.evaluate(model, solution.CrossEntropyLoss(), images, labels)
    assert accuracy > 0.95 and probs.shape == (200, 2)
    again, _ = run_epochs(solution, seed=0)
    for a, b in zip(model.parameters(), again.parameters()):
        np.testing.assert_array_equal(a.data, b.data)


def test_a_diverging_run_stops_at_once(solution):
    with pytest.raises(train.Diverged, match="loss became nan"):
        run_epochs(solution, seed=0, epochs=1, lr=1e38)


def test_checkpoint_round_trip_rebuilds_the_same_network(solution, tmp_path):
    model, _ = run_epochs(solution, seed=1, epochs=1)
    history = {key: [0.5] for key in checkpoint.HISTORY_KEYS}
    path = tmp_path / "model.npz"
    config = Config((32,), lr=0.05, momentum=0.9, batch_size=32, epochs=1, seed=1)
    checkpoint.save(path, model, train.SGD(model.parameters(), config.lr, config.momentum), config, 1, history)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model.npz"]  # no temporary file left behind
    saved = checkpoint.load(path)
    assert int(saved["epoch"]) == 1 and list(saved["hidden_dims"]) == [32]
    rebuilt = checkpoint.build_model(saved, solution)
    x = np.random.default_rng(0).standard_normal((4, 784)).astype(np.float32)
    np.testing.assert_array_equal(rebuilt(x), model(x))


@pytest.mark.parametrize("content", [b"", b"not a zip file at all", b"PK\x03\x04broken"])
def test_a_corrupt_checkpoint_is_a_plain_error(tmp_path, content):
    path = tmp_path / "model.npz"
    path.write_bytes(content)
    with pytest.raises(KitError, match="not a readable model file"):
        checkpoint.load(path)


def test_command_line_defaults_follow_the_contract():
    args = parse_args(CHAPTER / "startup", [])
    assert (args.hidden_dims, args.lr, args.batch_size, args.epochs, args.seed) == ([256, 128], 0.01, 64, 20, 0)
    assert 0 <= args.momentum < 1
    assert args.model_dir.parts[-2:] == ("model", "startup") and args.data_dir.name == "data"


def test_command_line_accepts_hyphenated_spellings():
    args = parse_args(CHAPTER / "solution", ["--batch-size", "32", "--hidden-dims", "64", "32", "--model-dir", "m"])
    assert (args.batch_size, args.hidden_dims, str(args.model_dir)) == (32, [64, 32], "m")


@pytest.mark.parametrize("argv", [["--lr", "0"], ["--lr", "-1"], ["--lr", "nan"], ["--momentum", "1"],
                                  ["--batch_size", "0"], ["--epochs", "two"], ["--hidden_dims"], ["--seed", "-1"],
                                  ["--learning_rate", "0.1"], ["--epoch", "3"], ["extra"]])
def test_bad_command_lines_exit_2(argv, capsys):
    with pytest.raises(SystemExit) as exited:
        parse_args(CHAPTER / "startup", argv)
    assert exited.value.code == 2
    assert "error" in capsys.readouterr().err


def test_an_atomic_write_that_fails_keeps_the_previous_file(tmp_path):
    path = tmp_path / "model.npz"
    write_atomically(path, lambda file: file.write(b"epoch 1"))

    def crash(file):
        file.write(b"half of epoch 2")
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        write_atomically(path, crash)
    assert path.read_bytes() == b"epoch 1" and sorted(p.name for p in tmp_path.iterdir()) == ["model.npz"]


def test_an_unwritable_folder_is_a_plain_error(tmp_path):
    (tmp_path / "not_a_folder").write_text("a file where a folder should be")
    with pytest.raises(KitError, match="Could not write"):
        write_atomically(tmp_path / "not_a_folder" / "model.npz", lambda file: file.write(b"x"))
