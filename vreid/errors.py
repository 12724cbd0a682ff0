"""User-facing errors: a short message that says what to do, never a wall of traceback."""


class UserError(RuntimeError):
    """Bad input from the user (config, data layout, weights). The CLI prints only the message."""
