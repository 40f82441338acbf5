"""One exception type for every failure the kit expects and explains, and the one place that turns it into an exit."""

import os
import sys


class KitError(Exception):
    """A failure explained in plain words: the command prints the message (no traceback) and exits 1."""


def run_command(main, *args):
    """Call main(*args) and return its exit status; expected failures become a message and a status, not a traceback.

    KitError: its message on stderr, status 1.  Ctrl-C: status 130 (main has said what was kept).  A closed pipe
    (output piped into `head`): status 1, quietly.
    """
    try:
        return main(*args) or 0
    except KitError as error:
        print(f"\n{error}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("\nInterrupted.", file=sys.stderr)
        return 130
    except BrokenPipeError:  # output piped into a program that stopped reading, e.g. `| head`
        sys.stdout = open(os.devnull, "w")  # so that Python's own final flush stays quiet
        return 1
