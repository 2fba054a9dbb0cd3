"""The demos' learning claims, at reduced sizes, seeded and deterministic.

* features: hidden kernels are recovered to < 1e-3;
* cocktail: the recipe table is recovered to < 0.01 despite the measurement noise;
* digits: a short run (10 epochs, no augmentation) reaches >= 95% test accuracy, and
  the pictures (or their text renderings) are produced.
"""

import io
import re
import sys

import numpy as np
import pytest

from convx import _demo


def quiet(**kw):
    return dict(dict(file=io.StringIO(), progress=False), **kw)


def test_features_recovers_edge_blur_and_colour_kernels():
    out = io.StringIO()
    result = _demo.features(**quiet(n_images=16, image_size=16, file=out))
    assert result.ok, out.getvalue()
    assert result.metrics["max_error"] < 1e-3 and result.metrics["converged"]
    text = out.getvalue()
    for name in ("sobel_x", "sobel_y", "laplacian", "gaussian_blur", "grey (luminance mix)",
                 "input channel R", "true", "learned", "max |learned - true|"):
        assert name in text


def test_cocktail_learns_the_recipe_table():
    out = io.StringIO()
    result = _demo.cocktail(**quiet(n_trays=16, file=out))
    assert result.ok, out.getvalue()
    recipe = result.metrics["recipe"]
    assert recipe.shape == (3, 4)
    assert np.max(np.abs(recipe - _demo.RECIPE)) < 0.01
    text = out.getvalue()
    for name in _demo.INGREDIENTS + _demo.COCKTAILS:
        assert name in text
    # White Lady's gin: learned (true)
    assert re.search(r"White Lady +0\.(49\d|50\d) \(0\.50\)", text), text


def test_cocktail_is_deterministic():
    a = _demo.cocktail(**quiet(n_trays=8, max_epochs=5))
    b = _demo.cocktail(**quiet(n_trays=8, max_epochs=5))
    np.testing.assert_array_equal(a.metrics["recipe"], b.metrics["recipe"])


def test_digits_short_run_reaches_95_percent_and_saves_pictures(tmp_path):
    pytest.importorskip("sklearn")
    pytest.importorskip("matplotlib")
    out = io.StringIO()
    result = _demo.digits(**quiet(max_epochs=10, augment=False, min_accuracy=0.95,
                                  out_dir=str(tmp_path), file=out))
    text = out.getvalue()
    assert result.metrics["accuracy"] >= 0.95, text
    cm = result.metrics["confusion"]
    assert cm.shape == (10, 10) and cm.sum() == 360
    assert np.trace(cm) == round(result.metrics["accuracy"] * 360)
    assert "confusion matrix" in text and "test accuracy" in text
    names = sorted(p.name for p in tmp_path.iterdir())
    assert names == ["digits_kernels.png", "digits_loss.png"]
    for p in tmp_path.iterdir():
        assert p.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert str(tmp_path / "digits_kernels.png") in text


def test_digits_text_rendering_without_matplotlib(tmp_path):
    pytest.importorskip("sklearn")
    out = io.StringIO()
    _demo.digits(**quiet(max_epochs=2, augment=False, out_dir=str(tmp_path), png=False,
                         file=out))
    text = out.getvalue()
    assert "asked for text: text renderings instead of PNGs" in text
    assert "kernel 15" in text and "loss curve" in text
    assert list(tmp_path.iterdir()) == []


def test_digits_without_matplotlib_renders_text(monkeypatch, tmp_path):
    pytest.importorskip("sklearn")
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    out = io.StringIO()
    _demo.digits(**quiet(max_epochs=1, augment=False, out_dir=str(tmp_path), file=out))
    assert "matplotlib is not installed: text renderings" in out.getvalue()
    assert list(tmp_path.iterdir()) == []


def test_digits_without_scikit_learn_fails_with_a_hint(monkeypatch):
    for name in ("sklearn", "sklearn.datasets", "sklearn.model_selection"):
        monkeypatch.setitem(sys.modules, name, None)          # import -> ImportError
    out = io.StringIO()
    result = _demo.digits(**quiet(out_dir=None, file=out))
    assert not result.ok and result.skipped
    assert "scikit-learn" in result.message and "[demo]" in result.message
    # `demo` (all three) on a core install: digits is skipped, the others pass
    monkeypatch.setattr(_demo, "features", lambda **kw: _demo.DemoResult("features", True, 0.0))
    monkeypatch.setattr(_demo, "cocktail", lambda **kw: _demo.DemoResult("cocktail", True, 0.0))
    out = io.StringIO()
    assert _demo.run(file=out) == 0
    assert "RESULT digits    SKIP" in out.getvalue()
    # asked for by name, it fails
    assert _demo.run(["digits"], file=io.StringIO()) == 1


def test_shift_augment_moves_images_by_at_most_one_pixel():
    x = np.zeros((50, 1, 5, 5), np.float32)
    x[:, 0, 2, 2] = 1
    moved = _demo.shift_augment(x, np.random.default_rng(0))
    rows, cols = np.nonzero(moved[:, 0].sum(axis=0))
    assert set(rows) == {1, 2, 3} and set(cols) == {1, 2, 3}
    assert np.all(moved.sum(axis=(1, 2, 3)) == 1)


def test_run_reports_each_demo_and_the_exit_status():
    out = io.StringIO()
    assert _demo.run(["features", "cocktail"], file=out, progress=False) == 0
    text = out.getvalue()
    assert "RESULT features  PASS" in text and "RESULT cocktail  PASS" in text
    with pytest.raises(ValueError, match="unknown demo 'mnist'"):
        _demo.run(["mnist"])


def test_a_failed_check_gives_exit_status_1(monkeypatch):
    monkeypatch.setattr(_demo, "features", lambda **kw: _demo.DemoResult("features", False, 0.0,
                                                                        "no"))
    assert _demo.run(["features"], file=io.StringIO()) == 1
