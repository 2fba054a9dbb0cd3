"""Specification of the errors convx raises.

TypeError for wrong types, ValueError for bad values or shapes, MemoryError
(or ValueError) instead of a crash for results that cannot exist.  Every
message names the offending argument exactly as the signature spells it
(input, weight, bias, stride, padding, dilation, groups, algorithm, threads,
out, weight_size, input_size, grad_output); where the bad value is a scalar
or a string, the message also shows it.

Argument names are matched as whole words, so "weight" does not match a
message that only says "weight_size" and vice versa.
"""

import re

import numpy as np
import pytest

import convx

X = np.zeros((2, 4, 6, 6), np.float32)        # input  (N, C, H, W)
W = np.zeros((6, 4, 3, 3), np.float32)        # weight (K, C, R, S)
B = np.zeros(6, np.float32)                   # bias   (K,)
GY = np.zeros((2, 6, 4, 4), np.float32)       # grad_output of conv2d(X, W)


def names(arg, value=None):
    """Regex: the argument's name as a whole word, and (if given and a
    scalar or string) the value's repr.  For a bad pair only the name is
    required: the message may show the pair or just the offending entry."""
    pattern = rf"(?<![\w.]){re.escape(arg)}(?!\w)"
    if value is not None and not isinstance(value, (tuple, list)):
        pattern = rf"(?s)(?=.*{pattern})(?=.*{re.escape(repr(value))})"
    return pattern


def _all_ops(**kw):
    """The three functions called on the shared problem with extra keyword arguments."""
    return [
        lambda: convx.conv2d(X, W, B, **kw),
        lambda: convx.conv2d_weight(X, W.shape, GY, **kw),
        lambda: convx.conv2d_input(X.shape, W, GY, **kw),
    ]


OP_IDS = ["conv2d", "conv2d_weight", "conv2d_input"]


def test_names_helper_is_strict():
    """The matcher used below: whole words only, value required when given."""
    assert re.search(names("weight"), "weight has 3 channels")
    assert not re.search(names("weight"), "weight_size has length 3")
    assert not re.search(names("input"), "input_size (1, 2)")
    assert re.search(names("groups", 3), "groups=3 must divide C=4")
    assert not re.search(names("groups", 3), "groups must divide C=4")


# ---------------------------------------------------------------------------
# Ranks and shapes of array arguments
# ---------------------------------------------------------------------------

@pytest.mark.parametrize("x", [np.zeros((4, 6)), np.zeros((1, 2, 4, 6, 6)), np.zeros(6), np.float64(1.0)],
                         ids=["2d", "5d", "1d", "0d"])
def test_input_wrong_rank(x):
    """input must be 3-D (C, H, W) or 4-D (N, C, H, W)."""
    with pytest.raises(ValueError, match=names("input")):
        convx.conv2d(x, W)
    with pytest.raises(ValueError, match=names("input")):
        convx.conv2d_weight(x, W.shape, GY)


@pytest.mark.parametrize("w", [np.zeros((6, 4, 3)), np.zeros((1, 6, 4, 3, 3)), np.zeros((6, 4))],
                         ids=["3d", "5d", "2d"])
def test_weight_wrong_rank(w):
    """weight must be 4-D (K, C/groups, R, S)."""
    with pytest.raises(ValueError, match=names("weight")):
        convx.conv2d(X, w)
    with pytest.raises(ValueError, match=names("weight")):
        convx.conv2d_input(X.shape, w, GY)


@pytest.mark.parametrize("b", [np.zeros((6, 1)), np.zeros(5), np.zeros(7), np.float32(0), np.zeros((1, 6))],
                         ids=["2d_6x1", "K-1", "K+1", "0d", "2d_1x6"])
def test_bias_wrong_shape(b):
    """bias must have shape (K,)."""
    with pytest.raises(ValueError, match=names("bias")):
        convx.conv2d(X, W, b)


@pytest.mark.parametrize("gy", [np.zeros((2, 6, 4)), np.zeros((2, 6, 4, 4, 1)), np.zeros((2, 6, 4, 5)),
                                np.zeros((2, 6, 5, 4)), np.zeros((2, 5, 4, 4)), np.zeros((3, 6, 4, 4))],
                         ids=["3d", "5d", "Q+1", "P+1", "K-1", "N+1"])
def test_grad_output_wrong_shape(gy):
    """grad_output must have exactly the forward output's shape."""
    with pytest.raises(ValueError, match=names("grad_output")):
        convx.conv2d_weight(X, W.shape, gy)
    with pytest.raises(ValueError, match=names("grad_output")):
        convx.conv2d_input(X.shape, W, gy)


def test_grad_output_shape_depends_on_geometry():
    """The expected grad_output shape uses stride / padding: (2, 6, 4, 4) is
    right for padding 0 but wrong for padding 1."""
    with pytest.raises(ValueError, match=names("grad_output")):
        convx.conv2d_weight(X, W.shape, GY, padding=1)
    with pytest.raises(ValueError, match=names("grad_output")):
        convx.conv2d_input(X.shape, W, GY, stride=2)


def test_channel_mismatch_names_weight():
    """weight's C/groups must equal input channels / groups."""
    with pytest.raises(ValueError, match=names("weight")):
        convx.conv2d(X, np.zeros((6, 3, 3, 3)))
    with pytest.raises(ValueError, match=names("weight")):
        convx.conv2d(X, np.zeros((6, 4, 3, 3)), groups=2)      # needs C/groups = 2
    with pytest.raises(ValueError, match=names("weight")):
        convx.conv2d_input((2, 5, 6, 6), W, GY)                 # input_size says C = 5


def test_channel_mismatch_in_weight_size():
    """conv2d_weight: weight_size's C/groups must match input's channels."""
    with pytest.raises(ValueError, match=r"(?<!\w)weight(_size)?(?!\w)"):
        convx.conv2d_weight(X, (6, 3, 3, 3), GY)


@pytest.mark.parametrize("w", [np.zeros((6, 4, 7, 3)), np.zeros((6, 4, 3, 7))], ids=["R7", "S7"])
def test_kernel_larger_than_input_names_weight(w):
    """A kernel that does not fit in the (padded) input: 7 > 6."""
    with pytest.raises(ValueError, match=names("weight")):
        convx.conv2d(X, w)


def test_kernel_fits_only_with_padding():
    """7x7 on 6x6 is an error without padding, legal with padding 1 (1x1 output)."""
    w = np.zeros((6, 4, 7, 7), np.float32)
    assert convx.conv2d(X, w, padding=1).shape == (2, 6, 2, 2)
    assert convx.conv2d(X, w, padding=((1, 0), (0, 1))).shape == (2, 6, 1, 1)
    with pytest.raises(ValueError, match=names("weight")):
        convx.conv2d(X, w, padding=((1, 0), (0, 0)))


def test_dilated_kernel_larger_than_input_names_weight():
    """3x3 with dilation 3 spans 7 > 6 pixels."""
    with pytest.raises(ValueError, match=names("weight")):
        convx.conv2d(X, W, dilation=3)
    with pytest.raises(ValueError, match=names("weight")):
        convx.conv2d(X, W, dilation=(1, 3))
    assert convx.conv2d(X, W, dilation=3, padding=1).shape == (2, 6, 2, 2)


@pytest.mark.parametrize("rs", [(0, 3), (3, 0), (0, 0)], ids=["R0", "S0", "R0S0"])
def test_zero_sized_kernel_names_weight(rs):
    """R == 0 or S == 0 is an error, even with padding."""
    w = np.zeros((6, 4) + rs, np.float32)
    with pytest.raises(ValueError, match=names("weight")):
        convx.conv2d(X, w, padding=1)
    with pytest.raises(ValueError, match=names("weight")):
        convx.conv2d_input(X.shape, w, GY, padding=1)


# ---------------------------------------------------------------------------
# groups
# ---------------------------------------------------------------------------

@pytest.mark.parametrize("groups, exc", [
    pytest.param(0, ValueError, id="zero"),
    pytest.param(-1, ValueError, id="negative"),
    pytest.param(3, ValueError, id="3_not_dividing_C4"),
    pytest.param(4, ValueError, id="4_not_dividing_K6"),
    pytest.param(True, TypeError, id="bool"),
    pytest.param(1.5, TypeError, id="float"),
    pytest.param(2.0, TypeError, id="integral_float"),
    pytest.param("2", TypeError, id="str"),
    pytest.param(None, TypeError, id="None"),
])
@pytest.mark.parametrize("op", range(3), ids=OP_IDS)
def test_bad_groups(op, groups, exc):
    """groups must be an int >= 1 dividing both C (4) and K (6)."""
    w = np.zeros((6, 1, 3, 3), np.float32) if groups in (3, 4) else W
    call = [
        lambda: convx.conv2d(X, w, groups=groups),
        lambda: convx.conv2d_weight(X, w.shape, GY, groups=groups),
        lambda: convx.conv2d_input(X.shape, w, GY, groups=groups),
    ][op]
    with pytest.raises(exc, match=names("groups", groups)):
        call()


def test_groups_not_dividing_K_only():
    """groups = 2 divides C = 4 but not K = 5."""
    with pytest.raises(ValueError, match=names("groups", 2)):
        convx.conv2d(X, np.zeros((5, 2, 3, 3), np.float32), groups=2)


# ---------------------------------------------------------------------------
# stride, dilation, padding
# ---------------------------------------------------------------------------

BAD_INT_PAIRS = [
    pytest.param(0, ValueError, id="zero"),
    pytest.param(-1, ValueError, id="negative"),
    pytest.param((1, 0), ValueError, id="pair_with_zero"),
    pytest.param((1,), ValueError, id="length1"),
    pytest.param((1, 2, 3), ValueError, id="length3"),
    pytest.param(1.0, TypeError, id="float"),
    pytest.param(True, TypeError, id="bool"),
    pytest.param((1, True), TypeError, id="pair_with_bool"),
    pytest.param((2, 1.5), TypeError, id="pair_with_float"),
    pytest.param("2", TypeError, id="str"),
    pytest.param(None, TypeError, id="None"),
]


@pytest.mark.parametrize("value, exc", BAD_INT_PAIRS)
@pytest.mark.parametrize("op", range(3), ids=OP_IDS)
def test_bad_stride(op, value, exc):
    """stride must be an int >= 1 or a pair of them."""
    with pytest.raises(exc, match=names("stride", value)):
        _all_ops(stride=value)[op]()


@pytest.mark.parametrize("value, exc", BAD_INT_PAIRS)
@pytest.mark.parametrize("op", range(3), ids=OP_IDS)
def test_bad_dilation(op, value, exc):
    """dilation must be an int >= 1 or a pair of them."""
    with pytest.raises(exc, match=names("dilation", value)):
        _all_ops(dilation=value)[op]()


BAD_PADDINGS = [
    pytest.param(-1, ValueError, id="negative"),
    pytest.param((0, -2), ValueError, id="pair_negative"),
    pytest.param(((1, -1), (0, 0)), ValueError, id="nested_negative"),
    pytest.param("foo", ValueError, id="unknown_string"),
    pytest.param("SAME", ValueError, id="uppercase_SAME"),
    pytest.param("", ValueError, id="empty_string"),
    pytest.param(1.5, TypeError, id="float"),
    pytest.param(True, TypeError, id="bool"),
    pytest.param((1, 1.0), TypeError, id="pair_with_float"),
    pytest.param(None, TypeError, id="None"),
]


@pytest.mark.parametrize("value, exc", BAD_PADDINGS)
@pytest.mark.parametrize("op", range(3), ids=OP_IDS)
def test_bad_padding(op, value, exc):
    """padding: int >= 0, pair, pair of pairs, 'valid' or 'same'; the string is
    case-sensitive, so 'SAME' is unknown."""
    with pytest.raises(exc, match=names("padding", value)):
        _all_ops(padding=value)[op]()


@pytest.mark.parametrize("value", [(1, 2, 3), ((1, 2, 3), (0, 0)), ((1, 2),), ((1,), (2,))],
                         ids=["length3", "inner_length3", "length1", "inner_length1"])
def test_padding_wrong_length(value):
    """Pairs of the wrong length are rejected (ValueError or TypeError) naming padding."""
    with pytest.raises((ValueError, TypeError), match=names("padding")):
        convx.conv2d(X, W, padding=value)


# ---------------------------------------------------------------------------
# algorithm, threads
# ---------------------------------------------------------------------------

@pytest.mark.parametrize("value, exc", [
    pytest.param("winograd", ValueError, id="unknown"),
    pytest.param("DIRECT", ValueError, id="uppercase"),
    pytest.param("", ValueError, id="empty"),
    pytest.param(3, TypeError, id="int"),
    pytest.param(None, TypeError, id="None"),
])
@pytest.mark.parametrize("op", range(3), ids=OP_IDS)
def test_bad_algorithm(op, value, exc):
    """algorithm is one of 'direct', 'im2col', 'fft', 'auto'."""
    with pytest.raises(exc, match=names("algorithm", value)):
        _all_ops(algorithm=value)[op]()


@pytest.mark.parametrize("value, exc", [
    pytest.param(0, ValueError, id="zero"),
    pytest.param(-1, ValueError, id="negative"),
    pytest.param(1.5, TypeError, id="float"),
    pytest.param(2.0, TypeError, id="integral_float"),
    pytest.param(True, TypeError, id="bool"),
    pytest.param("2", TypeError, id="str"),
])
@pytest.mark.parametrize("op", range(3), ids=OP_IDS)
def test_bad_threads(op, value, exc):
    """threads is None or an int >= 1."""
    with pytest.raises(exc, match=names("threads", value)):
        _all_ops(threads=value)[op]()


# ---------------------------------------------------------------------------
# out=
# ---------------------------------------------------------------------------

def test_out_wrong_shape():
    """out must have exactly the result shape (also not a broadcastable one)."""
    for shape in [(2, 6, 4, 5), (2, 6, 4), (1, 6, 4, 4), (2, 1, 4, 4), (2, 6, 4, 4, 1)]:
        with pytest.raises(ValueError, match=names("out")):
            convx.conv2d(X, W, out=np.zeros(shape, np.float32))


@pytest.mark.parametrize("dtype", [np.float64, np.float16, np.int32, np.complex64])
def test_out_wrong_dtype(dtype):
    """out must have exactly the result dtype (float32 here): no casting."""
    with pytest.raises((TypeError, ValueError), match=names("out")):
        convx.conv2d(X, W, out=np.zeros((2, 6, 4, 4), dtype))


def test_out_read_only():
    """out must be writeable."""
    out = np.zeros((2, 6, 4, 4), np.float32)
    out.setflags(write=False)
    with pytest.raises(ValueError, match=names("out")):
        convx.conv2d(X, W, out=out)
    assert np.all(out == 0)


@pytest.mark.parametrize("out", [np.zeros((2, 6, 4, 4)).tolist(), 0.0, "out"], ids=["list", "float", "str"])
def test_out_not_an_ndarray(out):
    """out must be a numpy ndarray."""
    with pytest.raises(TypeError, match=names("out")):
        convx.conv2d(X, W, out=out)


# ---------------------------------------------------------------------------
# Unsupported dtypes
# ---------------------------------------------------------------------------

BAD_ARRAYS = [
    pytest.param(np.complex128, id="complex128"),
    pytest.param(np.complex64, id="complex64"),
    pytest.param(object, id="object"),
    pytest.param(str, id="str"),
    pytest.param("datetime64[s]", id="datetime64"),
]


@pytest.mark.parametrize("dtype", BAD_ARRAYS)
def test_unsupported_dtype_of_each_argument(dtype):
    """complex, object, string (and other non-numeric) arrays are TypeErrors naming the argument."""
    def bad(a):
        return np.zeros(a.shape, dtype)
    with pytest.raises(TypeError, match=names("input")):
        convx.conv2d(bad(X), W)
    with pytest.raises(TypeError, match=names("weight")):
        convx.conv2d(X, bad(W))
    with pytest.raises(TypeError, match=names("bias")):
        convx.conv2d(X, W, bad(B))
    with pytest.raises(TypeError, match=names("grad_output")):
        convx.conv2d_weight(X, W.shape, bad(GY))
    with pytest.raises(TypeError, match=names("input")):
        convx.conv2d_weight(bad(X), W.shape, GY)
    with pytest.raises(TypeError, match=names("weight")):
        convx.conv2d_input(X.shape, bad(W), GY)
    with pytest.raises(TypeError, match=names("grad_output")):
        convx.conv2d_input(X.shape, W, bad(GY))


def test_list_of_strings_is_type_error():
    """A nested list of strings becomes a str array: TypeError naming input."""
    with pytest.raises(TypeError, match=names("input")):
        convx.conv2d([[[["a", "b"], ["c", "d"]]]], np.zeros((1, 1, 1, 1)))


# ---------------------------------------------------------------------------
# weight_size / input_size
# ---------------------------------------------------------------------------

@pytest.mark.parametrize("size", [(6, 4, 3), (6, 4, 3, 3, 1), (), (6,)], ids=["len3", "len5", "len0", "len1"])
def test_weight_size_wrong_length(size):
    """weight_size must have 4 entries (K, C/groups, R, S)."""
    with pytest.raises(ValueError, match=names("weight_size")):
        convx.conv2d_weight(X, size, GY)


@pytest.mark.parametrize("size", [(-6, 4, 3, 3), (6, -4, 3, 3), (6, 4, -3, 3), (6, 4, 3, -1)],
                         ids=["K", "C", "R", "S"])
def test_weight_size_negative(size):
    """weight_size entries must be >= 0."""
    with pytest.raises(ValueError, match=names("weight_size")):
        convx.conv2d_weight(X, size, GY)


@pytest.mark.parametrize("size", [(6, 4, 3.0, 3), (6, 4, 3, True), "6433", None],
                         ids=["float_entry", "bool_entry", "str", "None"])
def test_weight_size_wrong_type(size):
    """weight_size is a sequence of ints: other types are TypeErrors (or
    ValueErrors for an unusable sequence) naming weight_size."""
    with pytest.raises((TypeError, ValueError), match=names("weight_size")):
        convx.conv2d_weight(X, size, GY)


@pytest.mark.parametrize("size", [(4, 6), (1, 2, 4, 6, 6), (), (2, 4, 6, 6, 1, 1)],
                         ids=["len2", "len5", "len0", "len6"])
def test_input_size_wrong_length(size):
    """input_size must have 3 (C, H, W) or 4 (N, C, H, W) entries."""
    with pytest.raises(ValueError, match=names("input_size")):
        convx.conv2d_input(size, W, GY)


@pytest.mark.parametrize("size", [(-2, 4, 6, 6), (2, -4, 6, 6), (2, 4, -6, 6), (2, 4, 6, -6)],
                         ids=["N", "C", "H", "W"])
def test_input_size_negative(size):
    """input_size entries must be >= 0."""
    with pytest.raises(ValueError, match=names("input_size")):
        convx.conv2d_input(size, W, GY)


def test_input_size_rank_must_match_grad_output():
    """A 3-D input_size needs a 3-D grad_output and vice versa."""
    with pytest.raises(ValueError, match=r"(?<!\w)(input_size|grad_output)(?!\w)"):
        convx.conv2d_input((4, 6, 6), W, GY)
    with pytest.raises(ValueError, match=r"(?<!\w)(input_size|grad_output)(?!\w)"):
        convx.conv2d_input((2, 4, 6, 6), W, GY[0])


# ---------------------------------------------------------------------------
# Huge shapes: an error, never a crash or an attempt to allocate
# ---------------------------------------------------------------------------

def test_huge_weight_size_is_value_error():
    """weight_size with 2**62 entries cannot match grad_output / input."""
    for size in [(2**62, 4, 3, 3), (6, 2**62, 3, 3), (6, 4, 2**62, 3), (6, 4, 3, 2**62)]:
        with pytest.raises(ValueError, match=names("weight_size") + "|" + names("grad_output")
                           + "|" + names("weight")):
            convx.conv2d_weight(X, size, GY)


def test_huge_input_size_is_value_error():
    """input_size (1, 1, 2**40, 2**40) does not match a small grad_output."""
    with pytest.raises(ValueError):
        convx.conv2d_input((1, 1, 2**40, 2**40), np.zeros((1, 1, 1, 1)), np.zeros((1, 1, 2, 2)))
    with pytest.raises(ValueError):
        convx.conv2d_input((2**62, 2**62, 2**62, 2**62), W, GY)


def test_huge_output_of_broadcast_input_raises_memory_error():
    """A zero-stride input of 2**50 virtual elements takes no memory, but its
    4 * 2**50 * 4 byte output cannot be allocated: MemoryError (or ValueError)."""
    x = np.broadcast_to(np.float32(1), (2**10, 1, 2**20, 2**20))
    w = np.ones((4, 1, 1, 1), np.float32)
    with pytest.raises((MemoryError, ValueError)):
        convx.conv2d(x, w)


def test_output_over_2_63_bytes_raises():
    """An output of 2**62 float32 elements (2**64 bytes) overflows a signed
    64-bit byte count: MemoryError or ValueError, never a crash or a wrapped size."""
    x = np.broadcast_to(np.float32(1), (2**20, 1, 2**20, 2**20))   # 2**60 elements
    w = np.broadcast_to(np.float32(1), (4, 1, 1, 1))
    with pytest.raises((MemoryError, ValueError)):
        convx.conv2d(x, w)


def test_huge_input_gradient_raises_memory_error():
    """conv2d_input with a broadcast grad_output whose input_size is 2**48
    float64 elements (2 PiB): MemoryError (or ValueError) before allocating."""
    gy = np.broadcast_to(np.float64(1), (1, 1, 2**24, 2**24))
    with pytest.raises((MemoryError, ValueError)):
        convx.conv2d_input((1, 1, 2**24, 2**24), np.ones((1, 1, 1, 1)), gy)


@pytest.mark.parametrize("arg", ["stride", "padding", "dilation", "groups"])
def test_zero_d_integer_arrays_are_integers_everywhere(arg):
    """A 0-d integer array counts as an integer for every integer argument (as
    it always did for padding); a 0-d bool or float array stays a TypeError."""
    x = np.ones((1, 2, 6, 6))
    w = np.ones((2, 1 if arg == "groups" else 2, 3, 3))
    value = 2 if arg == "groups" else 1
    got = convx.conv2d(x, w, **{arg: np.array(value)})
    assert np.array_equal(got, convx.conv2d(x, w, **{arg: value}))
    for bad in (np.array(True), np.array(1.0)):
        with pytest.raises(TypeError, match=arg):
            convx.conv2d(x, w, **{arg: bad})
