#!/usr/bin/env python3
"""The longer chaos run: many random SIGKILLs of feedmill, then count what was lost.

    bench/chaos.py [--trials 100] [--per-batch 10] [--feeds 120] [--seed N] [--keep DIR]

From the project root after a build (FEEDMILL_BIN, default build/feedmill). A batch is a fresh
set of feeds served on loopback and a fresh state: --per-batch kills at random moments (of the
main process, the process group, a stage process, during a drain; see
tests/integration/chaos.py), then a run to quiet and the check. Batches alternate thread and
process mode. Each batch prints its plan and result; the last line is

    trials N lost N duplicated N corrupt N

(trials: kills; lost: GUIDs served that no JSON Lines line holds; duplicated: GUIDs written
more than once, in the JSON Lines files or the Atom feed; corrupt: lines or files that do not
parse, or a state that does not open). The target is 0 / 0 / 0. Not a test: it takes minutes.
"""

import argparse
import os
import random
import shutil
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "tests", "integration"))
os.environ.setdefault("FEEDMILL_BIN", os.path.join(ROOT, "build", "feedmill"))

from chaos import Chaos  # noqa: E402


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--trials", type=int, default=100)
    ap.add_argument("--per-batch", type=int, default=10)
    ap.add_argument("--feeds", type=int, default=120)
    ap.add_argument("--seed", type=int, default=None)
    ap.add_argument("--keep", help="keep each batch's folder under this one")
    args = ap.parse_args()
    if not os.access(os.environ["FEEDMILL_BIN"], os.X_OK):
        print("no feedmill at %s (build first)" % os.environ["FEEDMILL_BIN"], file=sys.stderr)
        return 2
    master = random.Random(args.seed)
    trials = lost = duplicated = corrupt = 0
    batch = 0
    started = time.time()
    while trials < args.trials:
        n = min(args.per_batch, args.trials - trials)
        mode = "thread" if batch % 2 == 0 else "process"
        seed = master.randrange(1 << 30)
        workdir = tempfile.mkdtemp(prefix="fm-chaos-bench-",
                                   dir=args.keep if args.keep else None)
        chaos = Chaos(workdir, mode=mode, seed=seed, feeds=args.feeds)
        try:
            for _ in range(n):
                chaos.trial(max_seconds=3.0)
            rc = chaos.quiet(timeout=120)
            r = chaos.verify()
        finally:
            chaos.close()
        trials += n
        lost += len(r["lost"])
        duplicated += len(r["duplicated"])
        corrupt += r["corrupt"]
        kinds = ",".join(k for k, _, _ in chaos.history)
        print("batch %d %s seed %d: %d kills (%s), %d items: lost %d duplicated %d corrupt %d, "
              "clean stop %s" % (batch, mode, seed, n, kinds, r["items"], len(r["lost"]),
                                 len(r["duplicated"]), r["corrupt"], rc), flush=True)
        if r["lost"] or r["duplicated"] or r["corrupt"] or rc != 0:
            print("  lost %s duplicated %s; kept in %s" % (r["lost"][:5], r["duplicated"][:5],
                                                         workdir), flush=True)
        elif not args.keep:
            shutil.rmtree(workdir, ignore_errors=True)
        batch += 1
    print("%.0f s" % (time.time() - started))
    print("trials %d lost %d duplicated %d corrupt %d" % (trials, lost, duplicated, corrupt))
    return 0 if not (lost or duplicated or corrupt) else 1


if __name__ == "__main__":
    sys.exit(main())
