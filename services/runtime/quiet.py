"""Keep native libraries' console chatter off stdout, where `--json` commands write their document.

Some solvers print from C/C++ straight to file descriptor 1 (highspy 1.16 prints a licence
banner when the first `Highs` object is created, before any option can be set), so
`contextlib.redirect_stdout` cannot catch it. `stdout_to_stderr` points descriptor 1 at
descriptor 2 for the duration of the block: the text is kept, on stderr, and stdout stays clean.
"""

from __future__ import annotations

import ctypes
import os
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager

_lock = threading.Lock()
_libc = ctypes.CDLL(None)


def _flush_native() -> None:
    """Flush C stdio buffers, so text written inside the block leaves through the redirected descriptor."""
    _libc.fflush(None)


@contextmanager
def stdout_to_stderr() -> Iterator[None]:
    """Send everything written to descriptor 1 inside the block to descriptor 2 instead."""
    with _lock:
        sys.stdout.flush()
        _flush_native()
        saved = os.dup(1)
        try:
            os.dup2(2, 1)
            try:
                yield
            finally:
                sys.stdout.flush()
                _flush_native()
                os.dup2(saved, 1)
        finally:
            os.close(saved)
