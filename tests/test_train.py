"""The training machinery on small synthetic data: optimizer, epoch loop, divergence, checkpoints, command line,
when a run is not learning and the pieces of its diagnosis."""

import numpy as np
import pytest

from chapter03.common import checkpoint, diagnose, plots, run, train
from chapter03.common.cli import parse_args
from chapter03.common.run import Config
from conftest import CHAPTER, SOLUTION_MODEL
from coursekit.errors import KitError
from coursekit.files import write_atomically
from coursekit.i18n import speaking
from coursekit.student_code import load_model_module


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


# ---------------------------------------------------------------------------------------------------------------
# The optimizer updates in place and names a gradient it cannot use


def test_sgd_updates_the_arrays_in_place(tmp_path):
    param = FakeParameter([[1.0, 2.0]], [[0.5, -1.0]])
    data = param.data
    optimizer = train.SGD([param], lr=0.1, momentum=0.9)
    for _ in range(3):
        optimizer.step()
    assert param.data is data  # the layers keep reading the same array
    np.testing.assert_allclose(param.data, [[1.0 - 0.05 * (1 + 1.9 + 2.71), 2.0 + 0.1 * (1 + 1.9 + 2.71)]], rtol=1e-6)


@pytest.mark.parametrize("grad, named", [(np.zeros((3, 2), np.float32), "shape (3, 2)"), (None, "a NoneType")])
def test_a_gradient_of_the_wrong_shape_is_a_plain_error(grad, named):
    param = FakeParameter(np.zeros((2, 3)), np.zeros((2, 3)))
    param.grad = grad
    with pytest.raises(KitError, match=r"the parameter has shape \(2, 3\), but its \.grad is") as error:
        train.SGD([param], lr=0.1).step()
    assert named in str(error.value) and "--checks_only" in str(error.value)


# ---------------------------------------------------------------------------------------------------------------
# Not learning: when a run stops, and the pieces of the diagnosis


def test_a_run_near_chance_or_whose_loss_did_not_fall_is_not_learning():
    train.check_learning(1, val_loss=0.5, val_acc=0.90, start_loss=2.5, classes=10)  # learning: no exception
    train.check_learning(7, val_loss=3.0, val_acc=0.90, start_loss=None, classes=10)  # later: accuracy only
    with pytest.raises(train.NotLearning, match=r"after epoch 1 the network gets only 10.6% .* guessing \(10%\)"):
        train.check_learning(1, val_loss=2.3, val_acc=0.106, start_loss=2.5, classes=10)
    with pytest.raises(train.NotLearning, match="after epoch 5 .* 9.8%"):
        train.check_learning(5, val_loss=0.1, val_acc=0.098, start_loss=None, classes=10)  # fell back to chance
    with pytest.raises(train.NotLearning, match=r"validation loss is 2.6000, no lower than before training"):
        train.check_learning(1, val_loss=2.6, val_acc=0.35, start_loss=2.5, classes=10)


def test_learning_rates_are_tried_from_the_default_outwards():
    assert diagnose.learning_rates_to_try(10000) == [0.01, 0.1, 0.001, 1.0, 0.0001, 0.00001]
    assert diagnose.learning_rates_to_try(1e-6)[:3] == [0.01, 0.001, 0.1]
    assert diagnose.learning_rates_to_try(0.01)[:2] == [0.1, 0.001]  # the run's own rate is not tried again


def test_the_diagnosis_network_follows_the_architecture(solution):
    network = diagnose.Network(diagnose.classes_of(solution), [784, 10, 10], seed=0)  # a hidden layer of 10 too
    assert [type(layer).__name__ for layer in network.layers] == ["Linear", "Sigmoid", "Linear", "Softmax"]
    again = diagnose.Network(diagnose.classes_of(solution), [784, 10, 10], seed=0)
    np.testing.assert_array_equal(network.parameters()[0].data, again.parameters()[0].data)
    assert network(np.zeros((3, 784), np.float32)).shape == (3, 10)


def test_a_layer_whose_forward_differs_is_told_apart_from_one_whose_backward_does(solution, tmp_path):
    text = SOLUTION_MODEL.read_text(encoding="utf-8").replace("return x @ self.W.data + self.b.data",
                                                               "return x @ self.W.data")
    (tmp_path / "model.py").write_text(text, encoding="utf-8")
    mutant = load_model_module(tmp_path / "model.py")
    assert "look at Linear.forward" in diagnose.blame("Linear", mutant.Linear, solution.Linear)
    for name in diagnose.LAYER_CLASSES:
        assert f"look at {name}.backward" in diagnose.blame(name, getattr(solution, name), getattr(solution, name))


# ---------------------------------------------------------------------------------------------------------------
# Small things a student sees


def test_the_skip_checks_banner_says_todo_when_checks_are_todo():
    todo, both, failing = (run.skip_checks_banner(statuses) for statuses in ({"TODO"}, {"TODO", "FAIL"}, {"FAIL"}))
    assert "are TODO (code not written yet)" in todo[0] and "FAIL" not in todo[0]
    assert "FAIL or are TODO" in both[0]
    assert failing[0].endswith("the checks above FAIL.") and "does not learn" in failing[1]


def test_help_documents_the_blas_threads_override(capsys):
    with pytest.raises(SystemExit):
        parse_args(CHAPTER / "startup", ["--help"])
    help_text = " ".join(capsys.readouterr().out.split())
    assert "--blas_threads N" in help_text and "default: 0, chosen during the run by timing" in help_text
    assert "forces N threads" in help_text
    assert parse_args(CHAPTER / "startup", []).blas_threads == 0
    assert parse_args(CHAPTER / "startup", ["--blas-threads", "2"]).blas_threads == 2


def test_settings_say_1_epoch():
    assert run.training_line(Config((32,), 0.01, 0.9, 64, 1, 0), 100).endswith(", 1 epoch.")
    assert run.training_line(Config((32,), 0.01, 0.9, 64, 2, 0), 100).endswith(", 2 epochs.")


def test_a_one_epoch_loss_plot_has_whole_epoch_ticks(tmp_path):
    plot = plots.LossPlot()
    plot.update({key: [0.5] for key in checkpoint.HISTORY_KEYS}, tmp_path / "loss.png")
    for ax in plot.axes:
        ticks = [tick for tick in ax.get_xticks() if ax.get_xlim()[0] <= tick <= ax.get_xlim()[1]]
        assert ticks == [1.0]


def test_a_chinese_run_draws_chinese_text_only_where_a_font_has_it(monkeypatch):
    import dataclasses

    from matplotlib import font_manager, rcParams

    monkeypatch.setitem(rcParams, "font.sans-serif", list(rcParams["font.sans-serif"]))
    with speaking("zh"):
        fonts = [font for font in font_manager.fontManager.ttflist if font.name not in plots.CHINESE_FONTS]
        monkeypatch.setattr(font_manager.fontManager, "ttflist", fonts)
        assert [ax.get_title() for ax in plots.LossPlot().axes] == ["Loss (cross-entropy)", "Accuracy (%)"]

        chinese = dataclasses.replace(fonts[0], name="Noto Sans CJK SC")  # as a Linux with fonts-noto-cjk has it
        monkeypatch.setattr(font_manager.fontManager, "ttflist", [*fonts, chinese])
        assert [ax.get_title() for ax in plots.LossPlot().axes] == ["损失（交叉熵）", "准确率（%）"]
        assert rcParams["font.sans-serif"][0] == "Noto Sans CJK SC"
    assert plots.picture_text("epoch", "轮") == "epoch"  # an English run


# ---------------------------------------------------------------------------------------------------------------
# Training without the input gradient: the same gradients, or model.backward when that cannot be shown


def train_twice(module, skip):
    rng = np.random.default_rng(123)
    images, labels = synthetic_digits(256, rng)
    model = module.MLP(784, [16], 2, rng=np.random.default_rng(0))
    optimizer = train.SGD(model.parameters(), 0.05, 0.9)
    for epoch in range(2):
        train.train_one_epoch(model, module.CrossEntropyLoss(), optimizer, images, labels, 32,
                              np.random.default_rng([0, epoch]), skip_input_gradient=skip)
    return model


def first_layer_rows_seen(module, monkeypatch):
    """Record W.data.shape[0] each time the first Linear's backward runs."""
    seen, backward = [], module.Linear.backward

    def spy(layer, grad_output):
        if layer.W.data.shape[1] == 16:
            seen.append(layer.W.data.shape[0])
        return backward(layer, grad_output)

    monkeypatch.setattr(module.Linear, "backward", spy)
    return seen


def test_without_the_input_gradient_the_parameters_are_exactly_the_same(tmp_path, monkeypatch):
    (tmp_path / "model.py").write_text(SOLUTION_MODEL.read_text(encoding="utf-8"), encoding="utf-8")
    module = load_model_module(tmp_path / "model.py")  # a copy of its own: the spy below changes its Linear
    plain = train_twice(module, skip=False)
    seen = first_layer_rows_seen(module, monkeypatch)
    fast = train_twice(module, skip=True)
    for a, b in zip(plain.parameters(), fast.parameters()):
        np.testing.assert_array_equal(a.data, b.data)
    # Each epoch: the first batch twice (plain, then checked), then every batch without W's rows.
    assert seen[:3] == [784, 0, 0] and seen.count(784) == 2 and set(seen) == {0, 784}


@pytest.mark.parametrize("old, new", [
    ("self.W.grad = self.x.T @ grad_output", "self.W.grad = (self.x.T @ grad_output).reshape(self.W.data.shape)"),
    ("self.W.grad = self.x.T @ grad_output", "self.W.grad += self.x.T @ grad_output"),
], ids=["needs W's shape", "accumulates"])
def test_a_backward_that_needs_all_of_w_gets_it(tmp_path, monkeypatch, old, new):
    (tmp_path / "model.py").write_text(SOLUTION_MODEL.read_text(encoding="utf-8").replace(old, new), encoding="utf-8")
    module = load_model_module(tmp_path / "model.py")
    plain = train_twice(module, skip=False)
    seen = first_layer_rows_seen(module, monkeypatch)
    careful = train_twice(module, skip=True)
    for a, b in zip(plain.parameters(), careful.parameters()):
        np.testing.assert_array_equal(a.data, b.data)
    assert seen.count(0) == 2  # tried once per epoch, on the first batch, then never again
