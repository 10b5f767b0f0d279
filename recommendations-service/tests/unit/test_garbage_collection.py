"""The serving process's collector settings, checked in a fresh interpreter of their own."""

from __future__ import annotations

import ast
import subprocess
import sys

from recommendations.server import YOUNG_COLLECTION_THRESHOLD

_TUNED = """
import gc
from recommendations.catalog import load_catalog
from recommendations.server import tune_garbage_collection
catalog = load_catalog(None)
before = gc.get_threshold()
tune_garbage_collection()
print((gc.get_freeze_count(), before, gc.get_threshold()))
"""


def test_start_up_objects_are_frozen_and_the_young_generation_collected_less_often() -> None:
    printed = subprocess.run(
        [sys.executable, "-c", _TUNED], check=True, capture_output=True, text=True
    ).stdout
    frozen, before, after = ast.literal_eval(printed)
    # The modules and the catalog alone are tens of thousands of tracked objects.
    assert frozen > 10_000
    assert after == (YOUNG_COLLECTION_THRESHOLD, *before[1:])
    assert before[0] < YOUNG_COLLECTION_THRESHOLD
