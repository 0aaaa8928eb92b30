"""The bench's memory sampling: a process tree's resident memory, each page counted once."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "bench"))

from harness import tree_resident_bytes  # noqa: E402

GB = 1 << 30


def test_a_child_sharing_its_parents_memory_between_vfork_and_exec_is_not_counted_again():
    tree = {
        10: (1, 100, 200),  # the Python driver (its parent is outside the tree)
        11: (10, 3 * GB, 9 * GB),  # its JVM
        12: (11, 3 * GB, 9 * GB),  # a helper the JVM is starting: the JVM's own pages until it execs
        13: (11, 4 << 20, 10 << 20),  # a helper that has exec'd: memory of its own
        14: (10, 3 * GB, 9 * GB),  # the driver's other child, the JVM's size but not its parent's: counted
    }
    assert tree_resident_bytes(tree) == 100 + 3 * GB + (4 << 20) + 3 * GB
