"""Shared fixtures: paths of the repository, the two model trees, and the real MNIST in ../shared/mnist."""

import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
CHAPTER = REPO / "chapter03"
SOLUTION_MODEL = CHAPTER / "solution" / "model.py"
STARTUP_MODEL = CHAPTER / "startup" / "model.py"
SHARED_MNIST = REPO.parent / "shared" / "mnist"

sys.path.insert(0, str(CHAPTER))  # `import common` as main.py does

from coursekit.student_code import load_model_module  # noqa: E402


@pytest.fixture(scope="session")
def solution():
    """The reference model.py, imported as a module."""
    return load_model_module(SOLUTION_MODEL)


@pytest.fixture(scope="session")
def startup():
    """The student's model.py as shipped (every TODO a stub)."""
    return load_model_module(STARTUP_MODEL)


@pytest.fixture(scope="session")
def shared_mnist():
    """The folder holding the real MNIST; tests that need it skip where it is absent (a student's fresh clone)."""
    if not (SHARED_MNIST / "train-images-idx3-ubyte.gz").is_file():
        pytest.skip(f"the real MNIST is not at {SHARED_MNIST} (only the course's machines and CI have it)")
    return SHARED_MNIST
