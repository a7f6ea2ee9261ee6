"""The progress bar of ``Module.fit``: shown only when a run is long enough to want one.

Examples:
    >>> bar = Progress(False)  # never shown
    >>> bar.update(3)
    >>> bar.write("Epoch[0] Train-mse=0.1")
    Epoch[0] Train-mse=0.1
"""

from __future__ import annotations

import sys
import time

from tqdm import tqdm

__all__ = ["Progress"]

# The bar appears only once a run has lasted this long: short runs print no bar.
_PROGRESS_DELAY_S = 2.0


class Progress:
    """A tqdm bar over the batches of a run (stderr), created only when it is worth showing.

    ``mode=None``: the clock starts after the first epoch, whose time is mostly compilation, and
    the bar appears once the run has gone on for ``_PROGRESS_DELAY_S`` more seconds.
    """

    def __init__(self, mode: bool | None):
        self.mode, self.bar, self.done, self.total, self.t0 = mode, None, 0, None, None
        if mode:
            self.bar = tqdm(unit="batch", file=sys.stderr, dynamic_ncols=True)

    def _maybe_start(self) -> None:
        if (
            self.mode is None
            and self.bar is None
            and self.t0 is not None
            and self.done < self.total
            and time.perf_counter() - self.t0 > _PROGRESS_DELAY_S
        ):
            self.bar = tqdm(total=self.total, initial=self.done, unit="batch", file=sys.stderr,
                            dynamic_ncols=True)

    def update(self, n: int) -> None:
        self.done += n
        if self.bar is not None:
            self.bar.update(n)
        else:
            self._maybe_start()

    def epoch_done(self, total: int) -> None:
        self.total = total
        if self.bar is not None and self.bar.total is None:
            self.bar.total = total
            self.bar.refresh()
        if self.t0 is None:
            self.t0 = time.perf_counter()
        self._maybe_start()

    def write(self, line: str) -> None:
        if self.bar is not None:
            tqdm.write(line, file=sys.stdout)  # clears and redraws the bar around the line
        else:
            print(line)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
