"""The embedded store's label index keeps one shared tuple per distinct label pair (memory per series)."""

from __future__ import annotations

from metrics_store.embedded._index import LabelIndex
from metrics_store.model import Matcher, MatchOp, labels_from


def _series(i: int) -> dict[str, str]:
    return {"__name__": "m", "job": "bench", "instance_id": str(i % 3), "id": str(i)}


def test_series_sharing_a_pair_share_one_tuple_and_keep_equal_labels() -> None:
    idx = LabelIndex()
    given = [labels_from(_series(i)) for i in range(6)]
    stored = [idx.add(ref, labels) for ref, labels in enumerate(given)]
    assert stored == given
    assert [idx.labels_of(ref) for ref in range(6)] == given
    assert all(idx.labels_of(ref) is stored[ref] for ref in range(6))
    job = [next(p for p in labels if p[0] == "job") for labels in stored]
    assert all(p is job[0] for p in job)
    same_id = [next(p for p in stored[ref] if p[0] == "instance_id") for ref in (1, 4)]
    assert same_id[0] is same_id[1]
    assert idx.get(labels_from(_series(4))) == 4


def test_equal_strings_from_different_objects_are_stored_once() -> None:
    idx = LabelIndex()
    a = idx.add(0, (("__name__", "".join(["m", "x"])), ("k", "".join(["v", "1"]))))
    b = idx.add(1, (("__name__", "".join(["m", "x"])), ("k", "".join(["v", "2"]))))
    assert a[0] is b[0]
    assert a[0][1] is b[0][1]


def test_matching_is_unchanged_by_the_shared_pairs() -> None:
    idx = LabelIndex()
    for ref in range(9):
        idx.add(ref, labels_from(_series(ref)))
    hit = idx.match([Matcher("instance_id", MatchOp.EQ, "1")])
    assert hit.tolist() == [1, 4, 7]
    miss = idx.match([Matcher("instance_id", MatchOp.NE, "1"), Matcher("job", MatchOp.EQ, "bench")])
    assert miss.tolist() == [0, 2, 3, 5, 6, 8]
