"""Sweep engine overhead and parallel speed-up on this machine (toy objective, SQLite storage).

    python benchmarks/bench_sweeps.py [--trials 40] [--delay 0.2]

Prints: seconds of bookkeeping per trial (objective that returns at once: enqueue, claim,
heartbeat, metrics, tell), and wall time of the same grid of ``delay``-second trials with 1 and 2
worker processes (ideal speed-up 2 on 2 free cores; the workers' start-up is included).
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from toolkit import sweeps


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--trials", type=int, default=40)
    parser.add_argument("--delay", type=float, default=0.2)
    args = parser.parse_args()
    grid = {"x": [round(-1 + 2 * i / (args.trials - 1), 6) for i in range(args.trials)], "seed": [0]}
    with tempfile.TemporaryDirectory() as tmp:
        db = Path(tmp) / "bench.db"
        exp = sweeps.get_experiment("toy")
        start = time.perf_counter()
        sweeps.run_study(exp, storage=db, study="overhead", grid=grid, verbose=False)
        overhead = (time.perf_counter() - start) / args.trials
        print(f"bookkeeping per trial (SQLite, 1 worker): {1000 * overhead:.1f} ms")
        slow = exp.with_options(fixed={"delay": args.delay})
        for workers in (1, 2):
            start = time.perf_counter()
            sweeps.run_study(slow, storage=db, study=f"w{workers}", grid=grid, workers=workers, verbose=False)
            wall = time.perf_counter() - start
            ideal = args.trials * args.delay / workers
            print(f"{args.trials} trials of {args.delay:.2f} s, {workers} worker(s): {wall:.1f} s "
                  f"(ideal {ideal:.1f} s)")


if __name__ == "__main__":
    main()
