"""Check the layers in model.py, then train the network on MNIST and test it.

    python main.py                 # checks, download, 20 epochs, test accuracy
    python main.py --checks_only   # only check the layers
    python main.py --help          # every flag

This file is the same in startup/ and solution/; each uses the model.py beside it.
"""

import sys
from pathlib import Path

TREE = Path(__file__).resolve().parent
sys.path.insert(0, str(TREE.parents[1]))  # the repository root: `coursekit` and `chapter03.common`

from chapter03.common.cli import main  # noqa: E402

if __name__ == "__main__":
    sys.exit(main(TREE))
