"""Heap use per scenario, measured with tracemalloc in a pass of its own.

tracemalloc attributes Python allocations to the scenario that made them, even though
every scenario runs in the same process; ``ru_maxrss`` cannot (it is one high-water mark
per process, so only the first scenario to raise it would show). It does not see memory
allocated by C/C++ libraries (regopy's Rego VM, libpq buffers), and it slows the calls
down, which is why latency is measured in a separate pass without it.
"""

from __future__ import annotations

import gc
import math
import time
import tracemalloc

from firewall.bench.results import HeapUse
from firewall.bench.scenarios import Opener

KIB = 1024


def heap_use(opener: Opener, calls: int, budget_s: float = math.inf) -> HeapUse:
    """Python heap held after setting up and calling once, and the peak of ``calls`` more.

    The calls stop early once they have taken ``budget_s`` seconds.
    """
    gc.collect()
    tracemalloc.start()
    try:
        with opener() as call:
            call()  # lazy set-up (connections, caches) belongs to the setup figure
            setup = tracemalloc.get_traced_memory()[0]
            tracemalloc.reset_peak()
            deadline = time.perf_counter() + budget_s
            made = 0
            while made < calls and time.perf_counter() < deadline:
                call()
                made += 1
            peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    return HeapUse(setup / KIB, max(0, peak - setup) / KIB, made)
