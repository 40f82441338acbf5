"""digit_image.py: MNIST's recipe (crop, 20-pixel box, center of mass), image files, the Sketch of the window."""

import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

from chapter03.common import digit_image
from chapter03.common.digit_image import MAX_SIDE, Sketch, is_light_on_dark, read_image, to_mnist
from conftest import REPO
from coursekit.errors import KitError

# A "2" as a stroke path in a box 0.6 wide and 1 tall (x to the right, y down).
TWO = [(0.05, 0.25), (0.15, 0.06), (0.3, 0.0), (0.48, 0.08), (0.55, 0.25), (0.45, 0.48), (0.05, 1.0), (0.6, 1.0)]


def draw(path, height, left, top, canvas=400):
    """The path drawn `height` pixels tall at (left, top) with a brush in proportion (1/8 of the height), as gray."""
    sketch = Sketch(canvas, round(height / 8))
    points = [(left + x * height, top + y * height) for x, y in path]
    sketch.dot(*points[0])
    for (x0, y0), (x1, y1) in zip(points, points[1:]):
        sketch.line(x0, y0, x1, y1)
    return sketch.gray()


def center_of_mass(pixels):
    rows, cols = np.indices(pixels.shape)
    return (rows * pixels).sum() / pixels.sum(), (cols * pixels).sum() / pixels.sum()


def extent(pixels):
    """(rows, columns) spanned by the ink."""
    rows = np.flatnonzero(pixels.any(axis=1))
    cols = np.flatnonzero(pixels.any(axis=0))
    return rows[-1] - rows[0] + 1, cols[-1] - cols[0] + 1


def test_output_is_28_by_28_float32_light_on_dark():
    pixels = to_mnist(draw(TWO, 250, 60, 70))
    assert pixels.shape == (28, 28) and pixels.dtype == np.float32
    assert pixels.min() >= 0 and pixels.max() <= 1
    assert pixels.max() > 0.9  # strokes are bright
    assert pixels[0].max() == pixels[:, 0].max() == 0  # the frame's edges are black, like MNIST's


def test_the_same_digit_at_another_size_and_place_gives_nearly_the_same_input():
    big_top_left = to_mnist(draw(TWO, 320, 20, 30))
    small_bottom_right = to_mnist(draw(TWO, 150, 230, 220))
    assert np.abs(big_top_left - small_bottom_right).mean() < 0.03
    assert np.corrcoef(big_top_left.ravel(), small_bottom_right.ravel())[0, 1] > 0.95


def test_the_longer_side_is_20_pixels_and_the_center_of_mass_is_at_14_14():
    pixels = to_mnist(draw(TWO, 250, 60, 70))
    assert max(extent(pixels)) == 20
    row, col = center_of_mass(pixels)
    assert abs(row - 14) <= 0.5 and abs(col - 14) <= 0.5


def test_a_one_stays_tall_thin_and_centered():
    gray = np.ones((400, 400), dtype=np.float32)
    gray[40:340, 190:215] = 0  # a straight `1`: 300 pixels tall, 25 wide
    pixels = to_mnist(gray)
    height, width = extent(pixels)
    assert height == 20 and width <= 3  # not stretched to a square
    row, col = center_of_mass(pixels)
    assert abs(row - 14) <= 0.5 and abs(col - 14) <= 0.5


def test_a_flat_stroke_is_20_pixels_wide_and_centered():
    gray = np.ones((300, 500), dtype=np.float32)  # canvases need not be square
    gray[250:262, 30:480] = 0
    pixels = to_mnist(gray)
    assert extent(pixels)[1] == 20
    row, col = center_of_mass(pixels)
    assert abs(row - 14) <= 0.5 and abs(col - 14) <= 0.5


def test_a_lopsided_digit_stays_whole_inside_the_frame():
    gray = np.ones((200, 200), dtype=np.float32)
    gray[10:190, 10:20] = 0  # an `L` with a heavy foot: its center of mass is far from its box's center
    gray[150:190, 10:190] = 0
    pixels = to_mnist(gray)
    scaled = digit_image.scale_to_box(digit_image.crop_to_ink(digit_image.ink_of(gray)))
    assert pixels.sum() == pytest.approx(scaled.sum())  # shifted, but nothing cut off


def test_a_grey_pen_on_grey_paper_is_stretched_to_full_contrast():
    clean = draw(TWO, 200, 100, 100)
    photo = 0.75 - 0.35 * (1 - clean)  # paper at 0.75, strokes at 0.4
    np.testing.assert_allclose(to_mnist(photo), to_mnist(clean), atol=1e-4)


@pytest.mark.parametrize("gray", [
    np.ones((400, 400), dtype=np.float32),
    np.full((50, 80), 255, dtype=np.uint8),
    np.zeros((30, 30), dtype=np.float32),  # all ink is no drawing either: nothing stands out from the paper
    1 - 0.1 * np.random.default_rng(0).random((100, 100)),  # faint smudges
], ids=["white", "white-uint8", "black", "smudges"])
def test_an_empty_drawing_gives_none(gray):
    assert to_mnist(gray) is None


def test_is_light_on_dark():
    gray = draw(TWO, 200, 100, 100)
    assert not is_light_on_dark(gray)
    assert is_light_on_dark(1 - gray)


# ---------------------------------------------------------------------------------------------------- files


def test_read_image_gives_gray_in_0_1(tmp_path):
    rgb = np.full((60, 40, 3), 255, dtype=np.uint8)
    rgb[10:50, 18:22] = (0, 0, 128)
    Image.fromarray(rgb).save(tmp_path / "one.png")
    gray = read_image(tmp_path / "one.png")
    assert gray.shape == (60, 40) and gray.dtype == np.float32
    assert gray[0, 0] == 1 and gray[30, 20] < 0.2


def test_transparent_background_reads_as_white_paper(tmp_path):
    rgba = np.zeros((60, 40, 4), dtype=np.uint8)  # transparent black everywhere...
    rgba[10:50, 18:22] = (0, 0, 0, 255)  # ...but an opaque black stroke
    Image.fromarray(rgba).save(tmp_path / "one.png")
    gray = read_image(tmp_path / "one.png")
    assert gray[0, 0] == 1 and gray[30, 20] == 0
    assert to_mnist(gray) is not None


def test_unreadable_or_missing_image_raises_kit_error(tmp_path):
    (tmp_path / "notes.png").write_text("not an image", encoding="utf-8")
    with pytest.raises(KitError, match="Cannot read .*notes.png"):
        read_image(tmp_path / "notes.png")
    Image.new("L", (100, 100), 255).save(tmp_path / "cut.png")
    (tmp_path / "cut.png").write_bytes((tmp_path / "cut.png").read_bytes()[:60])  # truncated
    with pytest.raises(KitError, match="cut.png"):
        read_image(tmp_path / "cut.png")
    with pytest.raises(KitError, match="No image file"):
        read_image(tmp_path / "absent.png")


MEASURE_PEAK = """
import resource, sys
from pathlib import Path
sys.path.insert(0, sys.argv[1])
from chapter03.common.digit_image import read_image, to_mnist
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
gray = read_image(Path(sys.argv[2]))
pixels = to_mnist(gray)
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(gray.shape[0], gray.shape[1], pixels.shape[0], (peak - before) // 1024)
"""


@pytest.mark.skipif(sys.platform != "linux", reason="ru_maxrss in kilobytes: Linux")
def test_a_huge_image_is_shrunk_as_it_is_read(tmp_path):
    side = 6000  # a 36-megapixel scan: 108 MB as RGB bytes, 144 MB as floats, and several copies of those before
    page = Image.new("RGB", (side, side), "white")
    page.paste((0, 0, 0), (2900, 1000, 3100, 5000))  # a "1" in the middle
    page.save(tmp_path / "scan.png", compress_level=1)
    done = subprocess.run([sys.executable, "-c", MEASURE_PEAK, str(REPO), str(tmp_path / "scan.png")],
                          capture_output=True, text=True, timeout=120, check=True)
    height, width, size, peak_mb = map(int, done.stdout.split())
    assert (height, width, size) == (MAX_SIDE, MAX_SIDE, 28)
    assert peak_mb < 300  # decoding (108 MB) and one gray copy; reading it whole as floats took about 550 MB
    scaled = read_image(tmp_path / "scan.png")
    small = tmp_path / "small.png"
    page.resize((MAX_SIDE, MAX_SIDE), Image.Resampling.LANCZOS).save(small)
    np.testing.assert_allclose(to_mnist(scaled), to_mnist(read_image(small)), atol=0.05)


def test_a_large_transparent_image_keeps_its_strokes(tmp_path):
    rgba = np.zeros((2 * MAX_SIDE + 100, 900, 4), dtype=np.uint8)  # transparent, taller than MAX_SIDE
    rgba[500:3500, 400:500] = (0, 0, 0, 255)
    Image.fromarray(rgba).save(tmp_path / "tall.png")
    gray = read_image(tmp_path / "tall.png")
    assert max(gray.shape) == MAX_SIDE and gray[0, 0] == 1 and gray.min() == 0
    assert to_mnist(gray) is not None


# ---------------------------------------------------------------------------------------------------- Sketch


def test_sketch_draws_round_strokes_and_clears():
    sketch = Sketch(100, brush=10)
    assert sketch.gray().shape == (100, 100) and sketch.gray().min() == 1  # blank white paper
    sketch.dot(20, 20)
    sketch.line(20, 20, 80, 20)
    gray = sketch.gray()
    assert gray[20, 20:81].max() == 0  # black along the stroke
    assert gray[20, 15] == 0 and gray[20, 85] == 0  # round ends reach half a brush beyond the points
    assert gray[20, 90] == 1 and gray[35, 50] == 1  # and no further
    sketch.clear()
    assert sketch.gray().min() == 1
