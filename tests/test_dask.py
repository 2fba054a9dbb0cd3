"""convx.dask: chunked convolutions on Dask equal single-machine convx.

Specification:
* conv2d on batch chunks is one task per chunk (no data moves between chunks), and on
  spatial chunks (odd sizes, dilation, asymmetric and "same" padding, stride 2, chunks
  smaller than the halo) it is bitwise the single-machine result, for random floats too;
* conv2d_weight sums per-chunk gradients with a tree reduction: exactly the
  single-machine gradient on integer-valued float64 data;
* everything is lazy until computed, and results can be written chunk by chunk;
* the same holds on a real LocalCluster with 2 worker processes;
* channel chunks, spatial chunks where only batch chunks are supported, mismatched
  chunking, Dask weights and unknown chunk sizes are refused with messages that say
  what to do.

Everything but the cluster tests runs on the synchronous scheduler.
"""

import os
import subprocess
import sys

import numpy as np
import pytest

da = pytest.importorskip("dask.array")
dask = pytest.importorskip("dask")

import convx  # noqa: E402
import convx.dask as cxd  # noqa: E402

SYNC = dict(scheduler="sync")
TIMEOUT = 60  # seconds any single cluster operation may take before the test fails


def ints(rng, shape, lo=-3, hi=4):
    """Integer-valued float64: every sum convx makes is exact, in any order."""
    return rng.integers(lo, hi, shape).astype(np.float64)


def layer_kinds(arr):
    return sorted(type(layer).__name__ for layer in arr.__dask_graph__().layers.values())


# --------------------------------------------------------------------------- import policy

def test_import_convx_does_not_import_dask(tmp_path):
    code = "import sys, convx; print('dask' in sys.modules, 'convx.dask' in sys.modules)"
    # the same import path as this process (the conftest's choice of convx), run elsewhere
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(p or os.getcwd() for p in sys.path))
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         env=env, cwd=tmp_path, timeout=TIMEOUT, check=True).stdout
    assert out.split() == ["False", "False"]


def test_docstring_examples_run():
    import doctest

    with dask.config.set(**SYNC):
        result = doctest.testmod(cxd, optionflags=doctest.NORMALIZE_WHITESPACE)
    assert result.attempted >= 8 and result.failed == 0


# --------------------------------------------------------------------------- batch chunks

BATCH_CASES = {
    "valid_3x3": dict(padding=0),
    "same_stride2": dict(padding="same", stride=2),
    "asym_pad_dilation2": dict(padding=((0, 2), (3, 1)), dilation=2),
    "groups2_bias": dict(padding=1, groups=2, bias=True),
    "depthwise": dict(padding="same", groups=4, K=8),
}


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("case", BATCH_CASES)
def test_conv2d_batch_chunks_equal_single_machine(case, dtype, rng):
    kw = dict(BATCH_CASES[case])
    K = kw.pop("K", 6)
    groups = kw.get("groups", 1)
    x = rng.standard_normal((7, 4, 11, 10)).astype(dtype)
    w = rng.standard_normal((K, 4 // groups, 3, 3)).astype(dtype)
    b = rng.standard_normal(K).astype(dtype) if kw.pop("bias", False) else None
    ref = convx.conv2d(x, w, b, **kw)
    y = cxd.conv2d(da.from_array(x, chunks=(3, 4, 11, 10)), w, b, **kw)
    assert y.chunks == ((3, 3, 1), (K,), ref.shape[2:3], ref.shape[3:4])
    assert y.dtype == ref.dtype
    # one task per input chunk: the input layer and one map_blocks layer, nothing else
    assert len(y.__dask_graph__().layers) == 2
    out = y.compute(**SYNC)
    assert out.dtype == ref.dtype
    np.testing.assert_array_equal(out, ref)


def test_conv2d_batch_chunks_int_input_promotes_like_convx(rng):
    x = rng.integers(0, 5, (4, 2, 6, 6))
    w = ints(rng, (3, 2, 2, 2)).astype(np.float32)
    ref = convx.conv2d(x, w)
    y = cxd.conv2d(da.from_array(x, chunks=(1, 2, 6, 6)), w)
    assert y.dtype == ref.dtype == np.float64
    np.testing.assert_array_equal(y.compute(**SYNC), ref)


def test_conv2d_unbatched_and_numpy_input(rng):
    x = rng.standard_normal((3, 9, 8))
    w = rng.standard_normal((2, 3, 3, 3))
    ref = convx.conv2d(x, w, padding="same")
    y = cxd.conv2d(da.from_array(x, chunks=(3, 4, 5)), w, padding="same")
    assert y.shape == ref.shape
    np.testing.assert_array_equal(y.compute(**SYNC), ref)
    np.testing.assert_array_equal(cxd.conv2d(x, w, padding="same").compute(**SYNC), ref)


# --------------------------------------------------------------------------- spatial chunks

SPATIAL_CASES = {
    # name: (H, W, chunks (n, h, w), kernel (R, S), conv kwargs)
    "odd_chunks_same": (23, 19, (2, 5, 7), (3, 3), dict(padding="same")),
    "odd_chunks_same_stride2": (23, 19, (3, 5, 7), (3, 3), dict(padding="same", stride=2)),
    "valid_stride2_nonsquare": (30, 31, (4, 6, 4), (3, 2), dict(padding="valid", stride=2)),
    "asym_pad_stride2": (23, 19, (3, 6, 4), (3, 2), dict(padding=((0, 2), (1, 0)), stride=2)),
    "dilation2_same_stride3": (30, 31, (4, 7, 9), (5, 3),
                               dict(padding="same", stride=3, dilation=2)),
    "dilation3_int_pad": (20, 17, (4, 6, 5), (3, 3), dict(padding=2, dilation=3)),
    "pad_larger_than_kernel": (20, 20, (4, 3, 6), (3, 3), dict(padding=((5, 0), (0, 6)),
                                                                stride=2)),
    "chunks_below_halo_are_merged": (17, 17, (4, 2, 3), (7, 7), dict(padding=3)),
    "chunks_below_stride": (9, 10, (4, 1, 2), (2, 2), dict(padding="same", stride=5)),
    "pointwise_stride2": (16, 16, (4, 8, 5), (1, 1), dict(stride=2)),
    "groups_bias": (21, 18, (4, 8, 5), (3, 3), dict(padding=1, groups=2, bias=True)),
}


@pytest.mark.parametrize("algorithm", ["direct", "im2col", "auto"])
@pytest.mark.parametrize("case", SPATIAL_CASES)
def test_conv2d_spatial_chunks_equal_single_machine_bitwise(case, algorithm, rng):
    """Random floats, not integers: each output pixel is the same sum in the same order."""
    H, W, chunks, (R, S), kw = SPATIAL_CASES[case]
    kw = dict(kw)
    groups = kw.get("groups", 1)
    x = rng.standard_normal((5, 8, H, W)).astype(np.float32)
    w = rng.standard_normal((6, 8 // groups, R, S)).astype(np.float32)
    b = rng.standard_normal(6).astype(np.float32) if kw.pop("bias", False) else None
    ref = convx.conv2d(x, w, b, algorithm=algorithm, **kw)
    n, h, w_ = chunks
    y = cxd.conv2d(da.from_array(x, chunks=(n, 8, h, w_)), w, b, algorithm=algorithm, **kw)
    assert y.shape == ref.shape
    assert sum(y.chunks[2]) == ref.shape[2] and sum(y.chunks[3]) == ref.shape[3]
    np.testing.assert_array_equal(y.compute(**SYNC), ref)


def test_conv2d_spatial_long_reduction_bitwise(rng):
    """C*R*S = 576 > 256: the GEMM's blocks over the reduction are the same per chunk."""
    x = rng.standard_normal((2, 64, 21, 20))
    w = rng.standard_normal((16, 64, 3, 3))
    for algorithm in ("direct", "im2col"):
        ref = convx.conv2d(x, w, padding="same", stride=2, algorithm=algorithm)
        y = cxd.conv2d(da.from_array(x, chunks=(1, 64, 8, 6)), w, padding="same", stride=2,
                       algorithm=algorithm)
        np.testing.assert_array_equal(y.compute(**SYNC), ref)


def test_conv2d_spatial_output_chunks_follow_the_stride(rng):
    """Chunks that are multiples of the stride give regular output chunks (chunk/stride)."""
    x = da.from_array(rng.standard_normal((1, 2, 64, 48)), chunks=(1, 2, 16, 12))
    w = rng.standard_normal((3, 2, 3, 3))
    y = cxd.conv2d(x, w, padding="same", stride=2)
    assert y.chunks[2:] == ((8, 8, 8, 8), (6, 6, 6, 6))
    y1 = cxd.conv2d(x, w, padding="same")
    assert y1.chunks[2:] == x.chunks[2:]
    # "valid" loses the last R-1 rows from the last chunk only
    y2 = cxd.conv2d(x, w, padding="valid")
    assert y2.chunks[2:] == ((16, 16, 16, 14), (12, 12, 12, 10))
    # halo exchange happens (an overlap layer) but no rechunk
    assert not any("rechunk" in name for name in y.__dask_graph__().layers)


def test_conv2d_spatial_property(rng):
    """Any geometry, any chunking: bitwise equal (hypothesis explores the combinations)."""
    hypothesis = pytest.importorskip("hypothesis")
    st = hypothesis.strategies

    @hypothesis.settings(max_examples=60, deadline=None, derandomize=True)
    @hypothesis.given(H=st.integers(1, 16), W=st.integers(1, 16), ch=st.integers(1, 7),
                      cw=st.integers(2, 7), R=st.integers(1, 4), S=st.integers(1, 4),
                      stride=st.integers(1, 3), dilation=st.integers(1, 2),
                      pads=st.lists(st.integers(0, 4), min_size=4, max_size=4),
                      same=st.booleans())
    def check(H, W, ch, cw, R, S, stride, dilation, pads, same):
        padding = "same" if same else ((pads[0], pads[1]), (pads[2], pads[3]))
        x = rng.standard_normal((1, 3, H, W))
        w = rng.standard_normal((2, 3, R, S))
        try:
            ref = convx.conv2d(x, w, stride=stride, padding=padding, dilation=dilation)
        except ValueError:  # kernel larger than the padded image: dask must refuse it too
            with pytest.raises(ValueError):
                cxd.conv2d(da.from_array(x, chunks=(1, 3, ch, cw)), w, stride=stride,
                           padding=padding, dilation=dilation)
            return
        y = cxd.conv2d(da.from_array(x, chunks=(1, 3, ch, cw)), w, stride=stride,
                       padding=padding, dilation=dilation)
        np.testing.assert_array_equal(y.compute(**SYNC), ref)

    check()


# --------------------------------------------------------------------------- gradients

WGRAD_CASES = {
    "valid": dict(),
    "same_stride2": dict(padding="same", stride=2),
    "asym_dilation2_groups2": dict(padding=((1, 0), (2, 1)), dilation=2, groups=2),
}


@pytest.mark.parametrize("n_chunks", [(4, 4, 4), (5, 1, 3, 2, 1)])
@pytest.mark.parametrize("case", WGRAD_CASES)
def test_conv2d_weight_tree_reduction_equals_single_machine(case, n_chunks, rng):
    kw = WGRAD_CASES[case]
    groups = kw.get("groups", 1)
    x = ints(rng, (12, 4, 10, 9))
    wshape = (6, 4 // groups, 3, 3)
    gy = ints(rng, convx.conv2d(x, np.zeros(wshape), **kw).shape)
    ref = convx.conv2d_weight(x, wshape, gy, **kw)
    dx = da.from_array(x, chunks=(n_chunks, 4, 10, 9))
    dg = da.from_array(gy, chunks=(n_chunks,) + gy.shape[1:])
    for split_every in (None, 2):
        dw = cxd.conv2d_weight(dx, wshape, dg, split_every=split_every, **kw)
        assert dw.shape == wshape and dw.numblocks == (1, 1, 1, 1)
        np.testing.assert_array_equal(dw.compute(**SYNC), ref)
    # a numpy operand is split along N like the Dask one
    np.testing.assert_array_equal(cxd.conv2d_weight(dx, wshape, gy, **kw).compute(**SYNC), ref)
    np.testing.assert_array_equal(cxd.conv2d_weight(x, wshape, dg, **kw).compute(**SYNC), ref)


def test_conv2d_weight_tree_has_several_levels(rng):
    x = ints(rng, (16, 1, 6, 6))
    gy = ints(rng, (16, 2, 4, 4))
    dw = cxd.conv2d_weight(da.from_array(x, chunks=(1, 1, 6, 6)), (2, 1, 3, 3),
                           da.from_array(gy, chunks=(1, 2, 4, 4)), split_every=2)
    # 16 partials, pairwise: a partial-sum layer, combine levels and the aggregate
    assert sum("sum" in name for name in dw.__dask_graph__().layers) >= 3
    np.testing.assert_array_equal(dw.compute(**SYNC), convx.conv2d_weight(x, (2, 1, 3, 3), gy))


def test_conv2d_weight_float32_close_and_unbatched(rng):
    x = rng.standard_normal((9, 3, 12, 12)).astype(np.float32)
    gy = rng.standard_normal((9, 5, 6, 6)).astype(np.float32)
    ref = convx.conv2d_weight(x, (5, 3, 3, 3), gy, stride=2, padding="same")
    dw = cxd.conv2d_weight(da.from_array(x, chunks=(2, 3, 12, 12)), (5, 3, 3, 3),
                           da.from_array(gy, chunks=(2, 5, 6, 6)), stride=2, padding="same")
    assert dw.dtype == np.float32
    np.testing.assert_allclose(dw.compute(**SYNC), ref, rtol=1e-5, atol=1e-4)
    one = cxd.conv2d_weight(da.from_array(x[0]), (5, 3, 3, 3), gy[0], stride=2, padding="same")
    np.testing.assert_array_equal(one.compute(**SYNC),
                                  convx.conv2d_weight(x[0], (5, 3, 3, 3), gy[0], stride=2,
                                                      padding="same"))


def test_conv2d_input_batch_chunks_equal_single_machine(rng):
    w = rng.standard_normal((6, 2, 3, 3))
    gy = rng.standard_normal((7, 6, 5, 5))
    kw = dict(stride=2, padding="same", groups=2)
    ref = convx.conv2d_input((7, 4, 10, 9), w, gy, **kw)
    dx = cxd.conv2d_input((7, 4, 10, 9), w, da.from_array(gy, chunks=(3, 6, 5, 5)), **kw)
    assert dx.chunks == ((3, 3, 1), (4,), (10,), (9,))
    np.testing.assert_array_equal(dx.compute(**SYNC), ref)


# --------------------------------------------------------------------------- lazy, streaming

def test_nothing_runs_until_compute(rng):
    calls = []

    def load(block):
        calls.append(block.shape)
        return block

    x = da.from_array(ints(rng, (6, 2, 16, 16)), chunks=(2, 2, 8, 8)).map_blocks(
        load, meta=np.empty((0, 0, 0, 0)))
    w = ints(rng, (3, 2, 3, 3))
    y = cxd.conv2d(x, w, padding="same", stride=2)
    xb = x.rechunk({2: -1, 3: -1})
    gw = cxd.conv2d_weight(xb, w.shape, cxd.conv2d(xb, w))
    gx = cxd.conv2d_input(x.shape, w, cxd.conv2d(xb, w))
    assert calls == []
    y.compute(**SYNC)
    assert len(calls) == 12  # each input chunk loaded once, halos included
    assert gw.shape == w.shape and gx.shape == x.shape


def test_results_stream_chunk_by_chunk_into_a_memmap(rng, tmp_path):
    x = rng.standard_normal((6, 2, 24, 20))
    w = rng.standard_normal((3, 2, 3, 3))
    ref = convx.conv2d(x, w, padding="same", stride=2)
    y = cxd.conv2d(da.from_array(x, chunks=(2, 2, 8, 10)), w, padding="same", stride=2)
    target = np.lib.format.open_memmap(tmp_path / "y.npy", mode="w+", dtype=y.dtype,
                                       shape=y.shape)
    da.store(y, target, lock=False, **SYNC)  # one write per output chunk, never the whole
    target.flush()
    np.testing.assert_array_equal(np.load(tmp_path / "y.npy"), ref)


def test_results_stream_to_zarr(rng, tmp_path):
    pytest.importorskip("zarr")
    x = rng.standard_normal((4, 2, 24, 20))
    w = rng.standard_normal((3, 2, 3, 3))
    y = cxd.conv2d(da.from_array(x, chunks=(2, 2, 8, 10)), w, padding="same", stride=2)
    with dask.config.set(**SYNC):
        y.to_zarr(str(tmp_path / "y.zarr"))
        back = da.from_zarr(str(tmp_path / "y.zarr")).compute()
    np.testing.assert_array_equal(back, convx.conv2d(x, w, padding="same", stride=2))


# --------------------------------------------------------------------------- threads

def test_threads_per_task_policy():
    from convx import _conv
    from convx.dask import _task_threads

    probe = dask.delayed(_task_threads)
    assert probe(3).compute(**SYNC) == 3
    assert probe(None).compute(**SYNC) == _conv.max_threads()   # the caller's thread
    with dask.config.set(num_workers=2):
        assert probe(None).compute(scheduler="threads") == max(1, _conv.max_threads() // 2)


def test_threads_do_not_change_results(rng):
    x = da.from_array(rng.standard_normal((4, 3, 13, 12)), chunks=(2, 3, 7, 5))
    w = rng.standard_normal((4, 3, 3, 3))
    one = cxd.conv2d(x, w, padding="same", threads=1).compute(scheduler="threads")
    two = cxd.conv2d(x, w, padding="same", threads=2).compute(**SYNC)
    np.testing.assert_array_equal(one, two)


# --------------------------------------------------------------------------- errors

@pytest.fixture
def xw(rng):
    x = da.from_array(ints(rng, (6, 4, 10, 10)), chunks=(2, 4, 10, 10))
    return x, ints(rng, (3, 4, 3, 3))


def test_channel_chunks_are_refused(xw):
    x, w = xw
    with pytest.raises(ValueError, match=r"chunked along C .*input\.rechunk\(\{1: -1\}\)"):
        cxd.conv2d(x.rechunk({1: 2}), w)


def test_conv2d_weight_refuses_spatial_and_channel_chunks(xw):
    x, w = xw
    gy = cxd.conv2d(x, w)
    with pytest.raises(ValueError, match=r"input is chunked along H .*N only.*"
                                         r"input\.rechunk\(\{2: -1\}\)"):
        cxd.conv2d_weight(x.rechunk({2: 5}), w.shape, gy)
    with pytest.raises(ValueError, match=r"input is chunked along C .*W .*"
                                         r"rechunk\(\{1: -1, 3: -1\}\)"):
        cxd.conv2d_weight(x.rechunk({1: 2, 3: 4}), w.shape, gy)
    with pytest.raises(ValueError, match=r"grad_output is chunked along K"):
        cxd.conv2d_weight(x, w.shape, gy.rechunk({1: 1}))


def test_conv2d_weight_refuses_mismatched_batch_chunks(xw):
    x, w = xw
    gy = cxd.conv2d(x, w).rechunk({0: 3})
    with pytest.raises(ValueError, match=r"chunked alike along N.*\(2, 2, 2\).*\(3, 3\).*"
                                         r"grad_output\.rechunk"):
        cxd.conv2d_weight(x, w.shape, gy)


def test_conv2d_weight_refuses_wrong_grad_output_shape(xw):
    x, w = xw
    with pytest.raises(ValueError, match=r"grad_output must have the forward output's shape "
                                         r"\(6, 3, 8, 8\)"):
        cxd.conv2d_weight(x, w.shape, np.zeros((6, 3, 10, 10)))


def test_conv2d_input_refuses_spatial_chunks(xw):
    x, w = xw
    gy = cxd.conv2d(x, w).rechunk({3: 4})
    with pytest.raises(ValueError, match=r"grad_output is chunked along Q .*conv2d_input"):
        cxd.conv2d_input(x.shape, w, gy)


def test_dask_weight_and_bias_are_refused(xw):
    x, w = xw
    with pytest.raises(TypeError, match=r"weight is a dask array.*weight\.compute\(\)"):
        cxd.conv2d(x, da.from_array(w))
    with pytest.raises(TypeError, match=r"bias is a dask array"):
        cxd.conv2d(x, w, da.zeros(3))


def test_unknown_chunk_sizes_are_refused(xw):
    x, w = xw
    with pytest.raises(ValueError, match=r"unknown chunk sizes.*compute_chunk_sizes"):
        cxd.conv2d(x[x[:, 0, 0, 0] > 0], w)


def test_bad_arguments_are_named_before_anything_runs(xw):
    x, w = xw
    with pytest.raises(ValueError, match=r"threads must be >= 1"):
        cxd.conv2d(x, w, threads=0)
    with pytest.raises(ValueError, match=r"algorithm must be one of"):
        cxd.conv2d(x, w, algorithm="winograd")
    with pytest.raises(ValueError, match=r"weight has 2 input channels per group but input "
                                         r"has 4 channels and groups=1"):
        cxd.conv2d(x, w[:, :2])
    with pytest.raises(ValueError, match=r"split_every must be >= 2"):
        cxd.conv2d_weight(x, w.shape, cxd.conv2d(x, w), split_every=1)
    with pytest.raises(TypeError, match=r"input has dtype complex128"):
        cxd.conv2d(x.astype(complex), w)
    with pytest.raises(ValueError, match=r"input must be a 4-D"):
        cxd.conv2d(x[0, 0], w)


# --------------------------------------------------------------------------- on a cluster

@pytest.fixture(scope="module")
def client():
    distributed = pytest.importorskip("distributed")
    cluster = distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                       dashboard_address=None, timeout=TIMEOUT)
    try:
        with distributed.Client(cluster, timeout=TIMEOUT, set_as_default=False) as c:
            c.wait_for_workers(2, timeout=TIMEOUT)
            yield c
    finally:
        cluster.close(timeout=TIMEOUT)


def run(client, *collections):
    """Compute on the cluster; a hang fails the test after TIMEOUT seconds."""
    futures = client.compute(list(collections))
    return [f.result(timeout=TIMEOUT) for f in futures]


def test_cluster_workers_import_this_convx(client):
    files = client.run(lambda: __import__("convx").__file__)
    assert len(files) == 2
    assert set(files.values()) == {convx.__file__}


def test_cluster_batch_chunks(client, rng):
    from distributed import get_task_stream

    x = ints(rng, (16, 3, 12, 12))
    w = ints(rng, (4, 3, 3, 3))
    ref = convx.conv2d(x, w, padding="same", stride=2)
    dx = client.persist(da.from_array(x, chunks=(2, 3, 12, 12)))
    with get_task_stream(client) as ts:
        (out,) = run(client, cxd.conv2d(dx, w, padding="same", stride=2))
    np.testing.assert_array_equal(out, ref)
    conv_workers = {t["worker"] for t in ts.data if "conv_block" in str(t["key"])}
    assert len(conv_workers) == 2, "both worker processes should have convolved chunks"


def test_cluster_spatial_chunks(client, rng):
    x = rng.standard_normal((2, 3, 37, 29))
    w = rng.standard_normal((4, 3, 3, 3))
    kw = dict(padding=((2, 0), (1, 1)), stride=2, dilation=2, algorithm="im2col")
    (out,) = run(client, cxd.conv2d(da.from_array(x, chunks=(1, 3, 9, 7)), w, **kw))
    np.testing.assert_array_equal(out, convx.conv2d(x, w, **kw))


def test_cluster_gradient_reduction(client, rng):
    x = ints(rng, (20, 2, 9, 9))
    gy = ints(rng, (20, 4, 5, 5))
    kw = dict(stride=2, padding="same")
    dx = da.from_array(x, chunks=(3, 2, 9, 9))
    dg = da.from_array(gy, chunks=(3, 4, 5, 5))
    (dw,) = run(client, cxd.conv2d_weight(dx, (4, 2, 3, 3), dg, split_every=2, **kw))
    np.testing.assert_array_equal(dw, convx.conv2d_weight(x, (4, 2, 3, 3), gy, **kw))


def test_cluster_default_threads_is_one_per_dask_thread(client):
    from convx.dask import _task_threads

    # Dask's nanny sets OMP_NUM_THREADS=1 in its workers, and each has one Dask thread
    assert client.submit(_task_threads, None, pure=False).result(timeout=TIMEOUT) == 1
    assert client.submit(_task_threads, 2, pure=False).result(timeout=TIMEOUT) == 2


def test_cluster_trains_the_features_task(client):
    """The data-parallel example: a few gradient steps on 2 workers recover Sobel x and y."""
    import importlib.util
    from pathlib import Path

    path = Path(__file__).resolve().parents[1] / "examples" / "dask_train_features.py"
    if not path.exists():
        pytest.skip("examples/ is not in this checkout")
    spec = importlib.util.spec_from_file_location("dask_train_features", path)
    example = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(example)

    x, y, w_true = example.make_data(n_images=32, chunk=8, size=16)
    x, y = client.persist([x, y])
    w, history = example.fit_kernel_dask(
        x, y, w_true.shape, max_iter=30, verbose=False,
        compute=lambda *objs: tuple(run(client, *objs)))
    assert history[-1] < 1e-12
    np.testing.assert_allclose(w, w_true, atol=1e-5)
