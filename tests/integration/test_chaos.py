"""Nothing lost, nothing published twice, whatever moment feedmill is killed (chaos.py).

A few trials of random SIGKILLs (the main process, the process group, a stage process, during
the drain of a SIGTERM) in thread mode and in process mode, then a run to quiet: every GUID the
feeds served is in the JSON Lines output exactly once, at most once in the Atom feed, and every
file parses. FEEDMILL_CHAOS_SEED=N replays a plan of kills; a failure prints its seed.
bench/chaos.py runs the same for many more trials.
"""

import os
import shutil
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from chaos import Chaos  # noqa: E402

TRIALS = int(os.environ.get("FEEDMILL_CHAOS_TRIALS", "6"))


class ChaosTest(unittest.TestCase):
    def run_mode(self, mode):
        seed = os.environ.get("FEEDMILL_CHAOS_SEED")
        workdir = tempfile.mkdtemp(prefix="fm-chaos-")
        chaos = Chaos(workdir, mode=mode, seed=int(seed) if seed else None, feeds=100)
        try:
            for _ in range(TRIALS):
                chaos.trial(max_seconds=2.5)
            rc = chaos.quiet(timeout=60)
            r = chaos.verify()
            where = ("seed %d (%s mode), kills %s; rerun with FEEDMILL_CHAOS_SEED=%d\n%s"
                     % (chaos.seed, mode, chaos.history, chaos.seed, chaos.tail_log()))
            self.assertEqual(rc, 0, "the clean stop exited %s; %s" % (rc, where))
            self.assertEqual(r["lost"], [], "lost; " + where)
            self.assertEqual(r["duplicated"], [], "published twice; " + where)
            self.assertEqual(r["corrupt"], 0, "a file does not parse; " + where)
            self.assertTrue(r["state_ok"], where)
        finally:
            chaos.close()
            if not os.environ.get("FEEDMILL_CHAOS_KEEP"):
                shutil.rmtree(workdir, ignore_errors=True)

    def test_threads(self):
        self.run_mode("thread")

    def test_processes(self):
        self.run_mode("process")


if __name__ == "__main__":
    unittest.main(verbosity=2)
