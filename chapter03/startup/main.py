"""Check the layers in model.py, then train the network on MNIST and test it.

    python main.py                 # checks, download, 20 epochs, test accuracy
    python main.py --checks_only   # only check the layers
    python main.py --help          # every flag

This file is the same in startup/ and solution/; each uses the model.py beside it.
"""

import sys

# First, and in syntax even Python 2 reads, so that an older Python prints this one line rather than a traceback.
if sys.version_info < (3, 9):  # noqa: UP036 (ruff assumes the oldest supported Python; this line is for older ones)
    sys.exit("This course kit needs Python 3.9 or newer; this is Python " + sys.version.split()[0] + " ("
             + sys.executable + "). README.md, section 'Supported Python', says more.")

from pathlib import Path

TREE = Path(__file__).resolve().parent
sys.path.insert(0, str(TREE.parents[1]))  # the repository root: `coursekit` and `chapter03.common`

from chapter03.common.cli import main  # noqa: E402

if __name__ == "__main__":
    sys.exit(main(TREE))
