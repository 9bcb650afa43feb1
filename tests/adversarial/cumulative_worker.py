"""One worker process of the cumulative-limits attack: refunds of 30 on order o-1 (80).

``python -m tests.adversarial.cumulative_worker DATA_DIR REDIS_URL PREFIX START_FILE N``:
builds the demo's firewall on the shared Redis, waits for START_FILE, fires 8 refunds
from 4 threads (each its own agent and session), prints ``{"paid": [...]}``.
"""

from __future__ import annotations

import json
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from tests.adversarial.cumulative_rig import build_desk, principal


def main(data_dir: str, redis_url: str, prefix: str, start_file: str, index: str) -> int:
    desk = build_desk(Path(data_dir), limits_url=redis_url, key_prefix=prefix)
    deadline = time.monotonic() + 60
    while not Path(start_file).exists():
        if time.monotonic() > deadline:
            return 2
        time.sleep(0.005)
    try:
        with ThreadPoolExecutor(4) as pool:
            jobs = [
                pool.submit(desk.refund, "o-1", 30, who=principal(agent=f"w{index}-bot-{i}"),
                            session=f"w{index}-s-{i}")
                for i in range(8)
            ]  # fmt: skip
            for job in jobs:
                job.result()
    finally:
        desk.close()
    print(json.dumps({"paid": [amount for _, amount in desk.refunded]}))
    return 0


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:6]))
