"""The region-read cache: least recently used first out, within its byte budget."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tilestream.cache import PartCache
from tilestream.stage import Part


def part(nbytes: int) -> Part:
    return Part(np.zeros(nbytes, np.uint8))


def test_least_recently_used_goes_first():
    cache = PartCache(300, ["y"])
    for n in range(3):
        cache.put(("y", (0, n)), part(100))
    assert cache.get(("y", (0, 0))) is not None  # now the most recent
    cache.put(("y", (0, 3)), part(100))
    assert ("y", (0, 1)) not in cache and ("y", (0, 0)) in cache and ("y", (0, 3)) in cache
    assert cache.nbytes == 300 and (cache.hits, cache.misses) == (1, 0)
    assert cache.get(("y", (0, 1))) is None and cache.misses == 1


def test_other_stages_and_oversized_parts_pass_through():
    cache = PartCache(100, ["zhat"])
    cache.put(("region", (0, 0)), part(10))
    cache.put(("zhat", (0, 0)), part(101))
    assert len(cache) == 0 and cache.get(("region", (0, 0))) is None and cache.misses == 0


def test_a_negative_budget_is_refused():
    with pytest.raises(ValueError, match="cache size -1 is negative"):
        PartCache(-1, [])


@settings(max_examples=50, deadline=None)
@given(budget=st.integers(0, 1000), ops=st.lists(st.tuples(st.integers(0, 9), st.integers(0, 400)), max_size=60))
def test_the_budget_holds_and_the_newest_fitting_part_is_kept(budget, ops):
    cache = PartCache(budget, ["y"])
    for key, size in ops:
        cache.put(("y", (0, key)), part(size))
        assert cache.nbytes <= budget
        assert cache.nbytes == sum(cache.get(k).value.nbytes for k in list(cache._items))
        if size <= budget:
            assert ("y", (0, key)) in cache


def test_a_copy_or_a_pickle_keeps_the_budget_and_starts_empty():
    import copy
    import pickle

    cache = PartCache(300, ["y"])
    cache.put(("y", (0, 0)), part(100))
    for clone in (copy.deepcopy(cache), pickle.loads(pickle.dumps(cache))):
        assert (clone.max_bytes, clone.stages, len(clone), clone.nbytes) == (300, frozenset({"y"}), 0, 0)
        clone.put(("y", (0, 1)), part(100))  # a working lock of its own
        assert ("y", (0, 1)) in clone and ("y", (0, 1)) not in cache
