"""`nested_boxes`: a tire box lying inside a larger one is the same tire detected twice."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from slam_fusion.core.fuse import nested_boxes

OUTER = [940, 834, 1700, 1074]


@pytest.mark.parametrize(
    ("boxes", "scores", "expected"),
    [
        ([OUTER], [0.9], [False]),
        # the dev-rtk-22 case: a second, shorter box inside a tire cut by the image's bottom edge
        ([OUTER, [942, 920, 1698, 1060]], [0.49, 0.45], [False, True]),
        ([OUTER, [942, 920, 1698, 1060]], [0.45, 0.49], [False, True]),  # the outer box stays, whatever the scores
        ([[0, 0, 100, 100], [0, 100, 100, 200]], [0.9, 0.8], [False, False]),  # stacked: touching, not nested
        ([[0, 0, 100, 100], [30, 0, 130, 100]], [0.9, 0.8], [False, False]),  # 70% inside: a row, kept
        ([[0, 0, 100, 100], [0, 0, 100, 100]], [0.8, 0.8], [False, True]),  # identical: keep the first
        ([[0, 0, 100, 100], [10, 10, 90, 90], [20, 20, 80, 80]], [0.5, 0.7, 0.9], [False, True, True]),
        ([[0, 0, 100, 100], [1, 1, 100, 100]], [0.7, 0.9], [False, True]),  # near-identical: the larger one stays
    ],
)
def test_nested_boxes_table(boxes, scores, expected):
    assert nested_boxes(np.array(boxes, float), np.array(scores, float)).tolist() == expected


def test_nothing_is_nested_in_an_empty_or_single_frame():
    assert nested_boxes(np.zeros((0, 4)), np.zeros(0)).tolist() == []


boxes_st = st.lists(st.tuples(st.integers(0, 1800), st.integers(0, 1000), st.integers(20, 400), st.integers(20, 400),
                              st.sampled_from([0.4, 0.6, 0.8])), min_size=1, max_size=8)  # ties on purpose


@settings(max_examples=60, deadline=None)
@given(boxes_st, st.randoms(use_true_random=False))
def test_permuting_the_boxes_drops_the_same_ones(items, rnd):
    b = np.array([[x, y, x + w, y + h] for x, y, w, h, _ in items], float)
    sc = np.array([s for *_, s in items])
    ref = nested_boxes(b, sc)
    perm = list(range(len(items)))
    rnd.shuffle(perm)
    got = nested_boxes(b[perm], sc[perm])
    kept = {tuple(b[i]) + (sc[i],) for i in range(len(items)) if not ref[i]}
    kept_p = {tuple(b[perm][i]) + (sc[perm][i],) for i in range(len(items)) if not got[i]}
    assert kept == kept_p
    assert not np.all(got)  # the largest box always stays
