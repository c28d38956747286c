"""The root of homecheck's own exceptions.

Every error homecheck raises on purpose subclasses `HomecheckError`, and its `str()` is the one
line shown to the user (the CLI prints it after `homecheck: error:` and exits 2). Anything else
that escapes is a bug and keeps its traceback. This module imports nothing from homecheck, so any
part (including the optional `homecheck.server`) can subclass it without pulling in the rest.
(Like speedtest-cli's `SpeedtestException` and flake8's `Flake8Exception`.)
"""

from __future__ import annotations


class HomecheckError(Exception):
    """An error meant for the user: `str()` is one line that says what is wrong."""


class UsageError(HomecheckError):
    """Bad input from the user (an option, a path, a file): shown as one line, exit 2."""
