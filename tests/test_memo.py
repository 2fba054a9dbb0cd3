"""The memoised shape-only decisions of convx._api (geometry, "auto", plan sizes).

A remembered result must be exactly what the full path computes, for every
argument form, on every SIMD path; errors and arguments that are not plain
ints / strs / tuples must take the full path every time.
"""

import numpy as np
import pytest

import convx
from convx import _api, _conv


def test_geometry_memo_returns_the_checked_result():
    args = ((2, 6, 9, 11), (4, 3, 3, 2), (2, 1), ((1, 0), (2, 1)), 1, 2)
    first = _api._geometry(*args)
    assert _api._geometry(*args) is first                  # remembered
    assert _api._geometry_checked(*args, "input", "weight") == first


@pytest.mark.parametrize("bad", [True, 1.0, np.float64(1.0)])
def test_bool_and_float_strides_raise_after_an_int_was_remembered(bad):
    x = np.ones((1, 1, 5, 5))
    w = np.ones((1, 1, 3, 3))
    convx.conv2d(x, w, stride=1)            # 1 == True == 1.0 as dict keys
    for _ in range(2):
        with pytest.raises(TypeError, match="stride"):
            convx.conv2d(x, w, stride=bad)


def test_errors_are_not_remembered():
    x = np.ones((1, 2, 5, 5))
    w = np.ones((1, 2, 7, 7))
    for _ in range(3):
        with pytest.raises(ValueError, match="larger than the padded input"):
            convx.conv2d(x, w)
    assert convx.conv2d(x, w, padding=1).shape == (1, 1, 1, 1)


def test_non_plain_arguments_give_the_same_result():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((2, 4, 9, 8))
    w = rng.standard_normal((6, 2, 3, 3))
    ref = convx.conv2d(x, w, stride=(2, 1), padding=(1, 2), dilation=1, groups=2)
    for kw in (dict(stride=[2, 1], padding=[1, 2], dilation=np.int64(1), groups=np.int32(2)),
               dict(stride=(np.int64(2), 1), padding=(1, np.int8(2)), dilation=(1, 1),
                    groups=2)):
        np.testing.assert_array_equal(convx.conv2d(x, w, **kw), ref)


def test_auto_memo_is_per_path():
    """The memo key holds the active path: each path's choice is the rule's."""
    geo = _api._geometry((8, 64, 14, 14), (64, 64, 3, 3), 1, 1, 1, 1)
    before = _conv.active_isa()
    try:
        for isa in _conv.isa_names():
            if _conv.select_isa(isa) != isa:
                continue
            for op in ("fwd", "wgrad", "dgrad"):
                for dtype in (np.float32, np.float64):
                    want = _api._auto_rule_checked(op, geo, dtype, threads=2)[0]
                    assert _api._auto(op, geo, dtype, 2) == want
                    assert _api._auto(op, geo, dtype, 2) == want
    finally:
        _conv.select_isa(before)


def test_plan_work_memo_matches_plan_info():
    geo = _api._geometry((4, 32, 20, 20), (48, 32, 3, 3), 1, 1, 1, 1)
    for algo in ("direct", "im2col"):
        info = _conv.plan_info(geo.astuple(), "wgrad", algo, np.float32)
        work, nt = _api._plan_work("wgrad", geo, algo, np.float32, 2)
        assert nt == max(1, min(2, info["nitems"]))
        assert work >= info["prepacked_weight_bytes"] + info["workspace_bytes"] * nt


def test_a_full_table_is_emptied(monkeypatch):
    monkeypatch.setattr(_api, "_MEMO_LIMIT", 3)
    table = {}
    for i in range(3):
        _api._remember(table, i, i)
    assert len(table) == 3
    _api._remember(table, "new", 1)
    assert table == {"new": 1}
    monkeypatch.setattr(_api, "_GEOMETRIES", {})
    for n in range(1, 8):
        geo = _api._geometry((n, 1, 5, 5), (1, 1, 3, 3), 1, 0, 1, 1)
        assert geo.N == n and len(_api._GEOMETRIES) <= 3
