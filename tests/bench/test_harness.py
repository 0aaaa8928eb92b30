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


def test_a_vforked_child_read_a_moment_after_its_parent_is_not_counted_again():
    jvm_rss, jvm_vms = 2400 << 20, 9 * GB
    tree = {
        11: (1, jvm_rss, jvm_vms),  # the JVM, read first
        12: (11, jvm_rss + (40 << 20), jvm_vms),  # its vforked helper, read later: the JVM had grown meanwhile
        13: (11, jvm_rss // 2, jvm_vms // 3),  # a child with memory of its own (a Python worker): counted
    }
    assert tree_resident_bytes(tree) == jvm_rss + jvm_rss // 2
