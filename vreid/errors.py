"""User-facing errors: a short message that says what to do, never a wall of traceback."""


class UserError(RuntimeError):
    """Bad input from the user (config, data layout, weights). The CLI prints only the message."""


def one_line(error: UserError) -> str:
    """The message of ``error``. A UserError raised in a DataLoader worker reaches the main
    process with the worker's traceback folded into its message; its last line is the original."""
    lines = str(error).strip().splitlines() or [""]
    last = lines[-1]
    prefix = f"{UserError.__module__}.{UserError.__qualname__}: "
    return last[len(prefix):] if len(lines) > 1 and last.startswith(prefix) else str(error)
