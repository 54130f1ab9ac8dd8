"""Full-batch training of many tiny linear softmax classifiers at once.

The paper's synthetic experiments train thousands of ``nn.Linear(d, 2)``
models, each for 1,000 full-batch SGD steps on 200 rows. One such model's
step is a few thousand multiply-adds, far less work than the Python and
autograd calls around it, so the authors' scripts spend most of their time
on overhead. Here ``R`` models of one input width are stacked and trained by a
handful of batched tensor operations per step, with the gradient in closed
form (no autograd):

* forward: ``S = W @ X1^T`` of shape ``(R, C, n)``, where ``X1 = [X, 1]``
  carries the bias as a last column of ``W`` (shape ``(R, C, d + 1)``);
* gradient of ``ce * CE + kl * KL`` on the logits:
  ``G = (ce / n + kl / (n * m)) * softmax(S) - (ce * Y / n + kl * P / (n * m))``
  with ``Y`` one-hot labels, ``P`` the teacher's probabilities and ``m`` the
  KL divisor (``C`` for torch's ``reduction="mean"``, 1 for ``"batchmean"``);
* ``dW = G @ X1``; ``W -= lr * dW`` (with momentum: torch's SGD buffer).

The logits are kept as ``(R, C, n)``: on CPU, ``bmm`` with the
long dimension last and ``softmax`` over a middle dimension of size 2 are
much faster than with the ``(R, n, C)`` layout (figures in
``benchmarks/RESULTS.md``).

Threads: every function runs its loop with one torch thread.
Each step's matrices are tiny (200 x 51 x 2), so a second thread mostly adds
wake-up and contention: it gains little on idle cores and costs many times
the step when other processes keep the cores busy
(``benchmarks/bench_reproduce.py``; figures in ``benchmarks/RESULTS.md``).
The robust choice is one thread per batch and parallelism one level up
(joblib over independent runs, ``--jobs``); a fixed thread count also keeps
each batch's arithmetic independent of the threads a worker gets. (A model
trained alone and in a batch agree up to float32 rounding: BLAS may round
products of different shapes differently.)

Models whose inputs are narrower than the batch width are zero-padded: a zero
column contributes nothing to the logits and receives a zero gradient, so the
padded weights stay at zero and the model trains exactly as it would alone.
"""

import numpy as np
import torch
from torch import nn

from crossmodal._utils.torch_helpers import torch_threads

__all__ = [
    "default_linear_init",
    "stack_linear",
    "stack_inputs",
    "softmax_proba",
    "train_softmax_batch",
    "train_aligned_pair_batch",
    "predict_logits_batch",
    "accuracy_batch",
    "unstack_linear",
]

_KL_DIVISOR = {"mean": None, "batchmean": 1}


def default_linear_init(in_features, n_classes, seed):
    """Initial weights of ``nn.Linear(in_features, n_classes)``, drawn with NumPy.

    torch initialises ``nn.Linear`` with ``kaiming_uniform_(a=sqrt(5))`` for
    the weight, which is ``U(-1/sqrt(in_features), 1/sqrt(in_features))``,
    and the same interval for the bias. Drawing them from a per-model seed
    keeps each model's start independent of the other models in its batch.

    Parameters
    ----------
    in_features : int
        Input width ``d``.
    n_classes : int
        Number of outputs ``C``.
    seed : int
        Seed of this model's NumPy generator.

    Returns
    -------
    weight : ndarray of shape (n_classes, in_features), float32
    bias : ndarray of shape (n_classes,), float32

    Examples
    --------
    >>> w, b = default_linear_init(4, 2, seed=0)
    >>> w.shape, b.shape, bool(abs(w).max() <= 0.5)
    ((2, 4), (2,), True)
    """
    rng = np.random.default_rng(seed)
    bound = 1.0 / np.sqrt(in_features)
    weight = rng.uniform(-bound, bound, size=(n_classes, in_features)).astype(np.float32)
    bias = rng.uniform(-bound, bound, size=n_classes).astype(np.float32)
    return weight, bias


def stack_linear(params, width=None):
    """Stack ``(weight, bias)`` pairs into one ``(R, C, width + 1)`` tensor.

    Parameters
    ----------
    params : sequence of (weight, bias)
        ``weight`` of shape ``(C, d_r)`` and ``bias`` of shape ``(C,)``; the
        widths ``d_r`` may differ.
    width : int, optional
        Common input width (default: the largest ``d_r``). Narrower weights
        are zero-padded on the right; the bias is the last column.

    Returns
    -------
    Tensor of shape (R, C, width + 1), float32
    """
    widths = [np.shape(w)[1] for w, _ in params]
    width = max(widths) if width is None else int(width)
    n_classes = np.shape(params[0][0])[0]
    out = np.zeros((len(params), n_classes, width + 1), dtype=np.float32)
    for r, (weight, bias) in enumerate(params):
        out[r, :, : np.shape(weight)[1]] = weight
        out[r, :, -1] = bias
    return torch.from_numpy(out)


def unstack_linear(stacked, in_features):
    """Turn one model of a stack back into an ``nn.Linear`` module.

    Parameters
    ----------
    stacked : Tensor of shape (C, width + 1)
        One row of :func:`stack_linear`'s output (or of a trained stack).
    in_features : int
        The model's true input width (its first ``in_features`` columns).

    Returns
    -------
    torch.nn.Linear
    """
    n_classes = stacked.shape[0]
    module = nn.Linear(in_features, n_classes)
    with torch.no_grad():
        module.weight.copy_(stacked[:, :in_features])
        module.bias.copy_(stacked[:, -1])
    return module.eval()


def stack_inputs(arrays, width=None):
    """Stack ``R`` design matrices into ``(R, n, width + 1)`` with a ones column.

    Parameters
    ----------
    arrays : sequence of array-like of shape (n, d_r)
        Same number of rows; widths may differ (zero-padded to ``width``).
    width : int, optional
        Common input width (default: the largest ``d_r``).

    Returns
    -------
    Tensor of shape (R, n, width + 1), float32
        The last column is all ones (it multiplies the bias).
    """
    widths = [np.shape(a)[1] for a in arrays]
    n_rows = {np.shape(a)[0] for a in arrays}
    if len(n_rows) != 1:
        raise ValueError(f"All stacked inputs need the same number of rows; got {sorted(n_rows)}.")
    width = max(widths) if width is None else int(width)
    out = np.zeros((len(arrays), n_rows.pop(), width + 1), dtype=np.float32)
    for r, a in enumerate(arrays):
        out[r, :, : np.shape(a)[1]] = a
    out[:, :, -1] = 1.0
    return torch.from_numpy(out)


def _per_model(value, n_models, name):
    arr = np.broadcast_to(np.asarray(value, dtype=np.float64), (n_models,))
    if not np.all(np.isfinite(arr)) or np.any(arr < 0):
        raise ValueError(f"{name} must be finite and >= 0 for every model; got {value!r}.")
    return torch.from_numpy(np.ascontiguousarray(arr, dtype=np.float32)).view(n_models, 1, 1)


def _one_hot_t(y, n_classes):
    """``(R, n)`` integer labels to ``(R, C, n)`` float32 one-hot."""
    y = torch.as_tensor(np.asarray(y), dtype=torch.int64)
    return torch.nn.functional.one_hot(y, n_classes).to(torch.float32).transpose(1, 2).contiguous()


def softmax_proba(weights, X1):
    """Class probabilities of every model on its own inputs.

    Parameters
    ----------
    weights : Tensor of shape (R, C, d + 1)
    X1 : Tensor of shape (R, n, d + 1)
        Inputs from :func:`stack_inputs`.

    Returns
    -------
    Tensor of shape (R, n, C), float32
    """
    with torch.no_grad():
        return torch.softmax(predict_logits_batch(weights, X1), dim=1).transpose(1, 2).contiguous()


def predict_logits_batch(weights, X1):
    """Logits of every model on its own inputs, as ``(R, C, n)``."""
    with torch.no_grad(), torch_threads(1):
        return torch.bmm(weights, X1.transpose(1, 2))


def accuracy_batch(weights, X1, y):
    """Accuracy of every model on its own inputs.

    Ties go to the first class, like ``torch.max(logits, 1)``.

    Returns
    -------
    ndarray of shape (R,), float64
    """
    logits = predict_logits_batch(weights, X1)
    pred = logits.argmax(dim=1)
    y = torch.as_tensor(np.asarray(y), dtype=torch.int64)
    return (pred == y).to(torch.float64).mean(dim=1).numpy()


def train_softmax_batch(
    weights, X1, y, *, lr, n_epochs, ce_weight=1.0, kl_weight=0.0, teacher_proba=None, kl_reduction="mean", momentum=0.0
):
    """Train ``R`` linear softmax classifiers with full-batch SGD.

    Model ``r`` minimises ``ce_weight[r] * CE(y_r, s_r) + kl_weight[r] *
    KL(teacher_proba_r || softmax(s_r))`` with the losses averaged as torch's
    ``CrossEntropyLoss()`` and ``KLDivLoss(reduction=kl_reduction)`` average
    them, and takes the same steps as ``torch.optim.SGD(lr=lr,
    momentum=momentum)``.

    Parameters
    ----------
    weights : Tensor of shape (R, C, d + 1)
        Initial weights with the bias last (:func:`stack_linear`); not
        modified.
    X1 : Tensor of shape (R, n, d + 1)
        Inputs with a ones column (:func:`stack_inputs`).
    y : array-like of shape (R, n)
        Integer labels in ``0..C-1``.
    lr : float
        Learning rate.
    n_epochs : int
        Number of full-batch steps.
    ce_weight, kl_weight : float or array-like of shape (R,)
        Loss weights per model. ``kl_weight=0`` trains on labels only.
    teacher_proba : array-like of shape (R, n, C), optional
        The teacher's class probabilities; required where ``kl_weight > 0``.
    kl_reduction : {"mean", "batchmean"}, default="mean"
        ``"mean"`` divides the summed KL by ``n * C`` (torch's default and the
        authors' code); ``"batchmean"`` by ``n``.
    momentum : float, default=0.0
        SGD momentum (no dampening, no Nesterov).

    Returns
    -------
    Tensor of shape (R, C, d + 1)
        Trained weights, bias last.

    Notes
    -----
    The gradient of both losses with respect to the logits is
    ``softmax(s) - target`` scaled by the reduction, so one fused update per
    step serves any mix of label and teacher targets.
    """
    if kl_reduction not in _KL_DIVISOR:
        raise ValueError(f"kl_reduction must be 'mean' or 'batchmean'; got {kl_reduction!r}.")
    n_models, n_classes, _ = weights.shape
    n_rows = X1.shape[1]
    kl_div = float(_KL_DIVISOR[kl_reduction] or n_classes)
    ce = _per_model(ce_weight, n_models, "ce_weight")
    kl = _per_model(kl_weight, n_models, "kl_weight")
    # dL/dS = scale * softmax(S) + offset, both fixed for the whole fit.
    scale = ce / n_rows + kl / (n_rows * kl_div)
    offset = -(ce / n_rows) * _one_hot_t(y, n_classes)
    if bool((kl > 0).any()):
        if teacher_proba is None:
            raise ValueError("teacher_proba is required when kl_weight > 0.")
        P = torch.as_tensor(np.asarray(teacher_proba), dtype=torch.float32).transpose(1, 2)
        offset = offset - (kl / (n_rows * kl_div)) * P
    offset = offset.contiguous()
    X1t = X1.transpose(1, 2).contiguous()
    W = weights.clone()
    buf = torch.zeros_like(W) if momentum else None
    with torch.no_grad(), torch_threads(1):
        for _ in range(int(n_epochs)):
            S = torch.bmm(W, X1t)
            G = torch.addcmul(offset, torch.softmax(S, dim=1), scale)
            grad = torch.bmm(G, X1)
            if buf is not None:
                grad = buf.mul_(momentum).add_(grad)
            W.add_(grad, alpha=-lr)
    return W


def train_aligned_pair_batch(weights_a, X1_a, weights_b, X1_b, y, *, lr=0.01, momentum=0.9, n_epochs=1000):
    """Jointly train ``R`` pairs ``(f_a, f_b)`` on Algorithm 1's step-1 loss.

    Each pair minimises ``CE(y, f_a(X_a)) + CE(y, f_b(X_b)) + MSE(f_a(X_a),
    f_b(X_b))`` (torch's mean reductions; MSE over the ``n * C`` logits),
    with one SGD optimizer (lr, momentum) over both models' parameters, as
    the authors' Gaussian code does.

    Parameters
    ----------
    weights_a, weights_b : Tensor of shape (R, C, d_a + 1) and (R, C, d_b + 1)
        Initial weights, bias last; not modified.
    X1_a, X1_b : Tensor of shape (R, n, d_a + 1) and (R, n, d_b + 1)
        Inputs with a ones column.
    y : array-like of shape (R, n)
        Integer labels.
    lr, momentum : float
        SGD settings (defaults: the authors' 0.01 and 0.9).
    n_epochs : int, default=1000
        Number of full-batch steps.

    Returns
    -------
    weights_a, weights_b : Tensor
        The trained pair.

    References
    ----------
    .. [1] Z. Xue, Z. Gao, S. Ren, H. Zhao. "The Modality Focusing
       Hypothesis: Towards Understanding Crossmodal Knowledge Distillation",
       ICLR 2023, Appendix B.4, Algorithm 1, eq. (28).
    """
    n_classes = weights_a.shape[1]
    n_rows = X1_a.shape[1]
    Y = _one_hot_t(y, n_classes)
    Xt_a = X1_a.transpose(1, 2).contiguous()
    Xt_b = X1_b.transpose(1, 2).contiguous()
    Wa, Wb = weights_a.clone(), weights_b.clone()
    buf_a, buf_b = torch.zeros_like(Wa), torch.zeros_like(Wb)
    mse_scale = 2.0 / (n_rows * n_classes)
    with torch.no_grad(), torch_threads(1):
        for _ in range(int(n_epochs)):
            Sa = torch.bmm(Wa, Xt_a)
            Sb = torch.bmm(Wb, Xt_b)
            diff = (Sa - Sb).mul_(mse_scale)
            Ga = (torch.softmax(Sa, dim=1) - Y).div_(n_rows).add_(diff)
            Gb = (torch.softmax(Sb, dim=1) - Y).div_(n_rows).sub_(diff)
            Wa.add_(buf_a.mul_(momentum).add_(torch.bmm(Ga, X1_a)), alpha=-lr)
            Wb.add_(buf_b.mul_(momentum).add_(torch.bmm(Gb, X1_b)), alpha=-lr)
    return Wa, Wb
