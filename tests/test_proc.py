"""bridge.proc: the process facts other packages size their work by."""

import subprocess
import sys

from tests.conftest import REPO


def test_usable_cpus_follows_the_affinity_mask():
    """Pinned to one CPU (as `taskset -c 0` does), the process counts one CPU, whatever the
    machine has: verify's thread pool and publish's spare cores are sized by it."""
    code = ("import os; from bridge.proc import usable_cpus; before = usable_cpus(); "
            "mask = len(os.sched_getaffinity(0)); "
            "os.sched_setaffinity(0, {min(os.sched_getaffinity(0))}); print(before, mask, usable_cpus())")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=REPO).stdout
    before, mask, pinned = map(int, out.split())
    assert pinned == 1
    assert before == mask
