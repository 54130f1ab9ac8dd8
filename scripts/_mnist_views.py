"""Six views of the 2,000 MNIST digits that no shipped pair uses, built the way mfeat's six views are described.

The av-digits archive (``crossmodal/datasets/data/av_digits.npz``) holds
5,000 MNIST images, 500 per digit; its shipped pairing uses 3,000 of them
(``image_index``) and no report re-pairs it. The other 2,000 (200 per digit,
as many as mfeat has) become a calibration source for ``diagnose`` whose
views differ the way mfeat's do: some see the pixels (and can tell a 6 from
a 9), some are invariant to rotation (and cannot). Each view is a fixed,
unsupervised transform of the image, computed here (mfeat's published
descriptions name the kinds of features, not this code):

* ``pix``: 2 x 2 block averages of the 28 x 28 image (196 values);
* ``kar``: the first 64 principal components (Karhunen-Loeve coefficients)
  of the 2,000 images;
* ``fac``: shape profiles: per image row, the first inked column from the
  left and from the right, per column the first inked row from the top and
  from the bottom, and the ink per row and per column (168 values);
* ``zer``: magnitudes of the Zernike moments up to order 12 on the disc
  around the ink's centre of mass that holds all ink (49 values, invariant
  to rotation);
* ``fou``: per ring of that disc (8 rings), the magnitudes of the first 9
  angular Fourier coefficients of the ink (72 values, invariant to rotation);
* ``mor``: six morphological features: holes, connected ink components,
  ink area, ink perimeter, bounding-box height over width, and the centre
  of mass's height in the box (invariant to rotation only in part).
"""

from math import factorial

import numpy as np
from scipy import ndimage

from crossmodal.datasets._files import open_data_file

__all__ = ["mnist_views"]

_INK = 0.5  # grey level (of 1) above which a pixel counts as ink


def _unused_images():
    with open_data_file("av_digits.npz") as npz:
        images, labels, used = npz["images"], npz["image_labels"], npz["image_index"]
    free = np.setdiff1d(np.arange(len(images)), used)
    return images[free].astype(np.float64).reshape(-1, 28, 28) / 255.0, labels[free].astype(np.int64)


def _polar(img):
    """Per image: radius (scaled so the farthest ink pixel sits at 1) and angle of every pixel around the centroid."""
    n = len(img)
    rows, cols = np.mgrid[0:28, 0:28].astype(np.float64)
    mass = img.sum(axis=(1, 2))
    cy = (img * rows).sum(axis=(1, 2)) / mass
    cx = (img * cols).sum(axis=(1, 2)) / mass
    dy = rows[None] - cy[:, None, None]
    dx = cols[None] - cx[:, None, None]
    r = np.hypot(dy, dx)
    reach = np.array([r[i][img[i] > _INK].max() for i in range(n)]) + 0.5
    return (r / reach[:, None, None]).reshape(n, -1), np.arctan2(dy, dx).reshape(n, -1)


def _zernike(f, rho, theta, order=12):
    inside = rho <= 1.0
    out = []
    for n in range(order + 1):
        for m in range(n % 2, n + 1, 2):
            radial = sum(
                (-1) ** s
                * factorial(n - s)
                / (factorial(s) * factorial((n + m) // 2 - s) * factorial((n - m) // 2 - s))
                * rho ** (n - 2 * s)
                for s in range((n - m) // 2 + 1)
            )
            z = (f * inside * radial * np.exp(-1j * m * theta)).sum(axis=1) * (n + 1) / np.pi
            out.append(np.abs(z))
    return np.column_stack(out)


def _ring_fourier(f, rho, theta, rings=8, harmonics=9):
    ring = np.minimum((rho * rings).astype(int), rings - 1)
    out = []
    for k in range(rings):
        w = f * (ring == k)
        for h in range(harmonics):
            out.append(np.abs((w * np.exp(-1j * h * theta)).sum(axis=1)))
    return np.column_stack(out)


def _profiles(img):
    ink = img > _INK
    any_row, any_col = ink.any(axis=2), ink.any(axis=1)
    left = np.where(any_row, ink.argmax(axis=2), 28)
    right = np.where(any_row, ink[:, :, ::-1].argmax(axis=2), 28)
    top = np.where(any_col, ink.argmax(axis=1), 28)
    bottom = np.where(any_col, ink[:, ::-1, :].argmax(axis=1), 28)
    return np.hstack([left, right, top, bottom, img.sum(axis=2), img.sum(axis=1)]).astype(np.float64)


def _morphology(img):
    out = []
    rows = np.arange(28, dtype=np.float64)
    for image in img:
        ink = image > _INK
        background, n_background = ndimage.label(~ink)
        holes = n_background - 1 if n_background else 0
        components = ndimage.label(ink)[1]
        eroded = ndimage.binary_erosion(ink)
        r, c = np.nonzero(ink)
        height, width = r.max() - r.min() + 1, c.max() - c.min() + 1
        centre = (image.sum(axis=1) @ rows) / image.sum()
        out.append([holes, components, ink.sum(), (ink & ~eroded).sum(), height / width, (centre - r.min()) / height])
    return np.asarray(out, dtype=np.float64)


def mnist_views():
    """The six views of the 2,000 unused MNIST images (dict name -> array) and their digits."""
    img, y = _unused_images()
    flat = img.reshape(len(img), -1)
    centred = flat - flat.mean(axis=0)
    components = np.linalg.svd(centred, full_matrices=False)[2][:64]
    rho, theta = _polar(img)
    views = {
        "pix": img.reshape(len(img), 14, 2, 14, 2).mean(axis=(2, 4)).reshape(len(img), -1),
        "kar": centred @ components.T,
        "fac": _profiles(img),
        "zer": _zernike(flat, rho, theta),
        "fou": _ring_fourier(flat, rho, theta),
        "mor": _morphology(img),
    }
    return views, y
