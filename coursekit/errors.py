"""One exception type for every failure the kit expects and explains."""


class KitError(Exception):
    """A failure explained in plain words: the command prints the message (no traceback) and exits 1."""
