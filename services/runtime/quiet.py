"""Keep native libraries' console chatter off stdout, where `--json` commands write their document.

Some solvers print from C/C++ straight to file descriptor 1 (highspy 1.16 prints a licence
banner when the first `Highs` object is created, before any option can be set), so
`contextlib.redirect_stdout` cannot catch it. `stdout_to_log` points descriptor 1 at a temporary
file for the duration of the block and then hands each line it caught to `logging` at DEBUG
(logger ``fluxlab.native``): stdout stays clean, the terminal stays quiet, and the text is one
``FLUXLAB_LOG_LEVEL=DEBUG`` away.
"""

from __future__ import annotations

import ctypes
import logging
import os
import sys
import tempfile
import threading
from collections.abc import Iterator
from contextlib import contextmanager

_lock = threading.Lock()
_libc = ctypes.CDLL(None)
log = logging.getLogger("fluxlab.native")


def _flush_native() -> None:
    """Flush C stdio buffers, so text written inside the block leaves through the redirected descriptor."""
    _libc.fflush(None)


@contextmanager
def stdout_to_log(source: str = "native") -> Iterator[None]:
    """Catch everything written to descriptor 1 inside the block and log it at DEBUG, line by line."""
    with _lock, tempfile.TemporaryFile() as caught:
        sys.stdout.flush()
        _flush_native()
        saved = os.dup(1)
        try:
            os.dup2(caught.fileno(), 1)
            try:
                yield
            finally:
                sys.stdout.flush()
                _flush_native()
                os.dup2(saved, 1)
        finally:
            os.close(saved)
        caught.seek(0)
        for line in caught.read().decode(errors="replace").splitlines():
            if line.strip():
                log.debug("%s: %s", source, line)
