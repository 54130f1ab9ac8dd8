"""Slow, obvious NumPy references of the objectives, written from the papers' definitions with loops.

Each takes plain float64 arrays (no torch) and loops over rows, pairs,
triplets and classes the way the equations read.
"""

import math

import numpy as np


def softmax(z):
    e = np.exp(z - z.max())
    return e / e.sum()


def kl(p, q):
    return sum(pi * math.log(pi / qi) for pi, qi in zip(p, q) if pi > 0)


def dkd_rows(student_logits, teacher_proba, target, temperature):
    """Per-row TCKD and NCKD from the binary and the non-target distributions."""
    tckd, nckd = [], []
    for s, p_teacher, t in zip(student_logits, teacher_proba, target):
        p = softmax(np.log(p_teacher) / temperature)
        q = softmax(s / temperature)
        tckd.append(kl([p[t], 1 - p[t]], [q[t], 1 - q[t]]))
        others = [i for i in range(len(p)) if i != t]
        p_hat = [p[i] / sum(p[j] for j in others) for i in others]
        q_hat = [q[i] / sum(q[j] for j in others) for i in others]
        nckd.append(kl(p_hat, q_hat))
    return np.array(tckd), np.array(nckd)


def dkd(student_logits, teacher_proba, y, temperature, alpha, beta, sample_weight=None):
    target = [label if label >= 0 else int(np.argmax(p)) for label, p in zip(y, teacher_proba)]
    tckd, nckd = dkd_rows(student_logits, teacher_proba, target, temperature)
    w = np.ones(len(y)) if sample_weight is None else sample_weight
    return temperature**2 * sum(wi * (alpha * a + beta * b) for wi, a, b in zip(w, tckd, nckd)) / len(y)


def mlld(student_logits, teacher_proba, temperatures, sample_weight=None, reduction="mean"):
    """Instance, batch and class levels; ``"paper"`` divides the batch level by m and leaves M = P^T P."""
    m, n_classes = student_logits.shape
    batch_divisor, rows = (m, 1) if reduction == "paper" else (m * m, m)
    w = np.ones(m) if sample_weight is None else sample_weight
    instance = batch = class_ = 0.0
    for temperature in temperatures:
        P = np.array([softmax(np.log(p) / temperature) for p in teacher_proba])
        Q = np.array([softmax(s / temperature) for s in student_logits])
        instance += sum(w[i] * kl(P[i], Q[i]) for i in range(m)) / m
        for i in range(m):
            for k in range(m):
                g_t = sum(P[i, c] * P[k, c] for c in range(n_classes))
                g_s = sum(Q[i, c] * Q[k, c] for c in range(n_classes))
                batch += w[i] * w[k] * (g_t - g_s) ** 2 / batch_divisor
        for a in range(n_classes):
            for b in range(n_classes):
                m_t = sum(w[i] * P[i, a] * P[i, b] for i in range(m)) / rows
                m_s = sum(w[i] * Q[i, a] * Q[i, b] for i in range(m)) / rows
                class_ += (m_t - m_s) ** 2 / n_classes
    return instance, batch, class_


def hint(student_features, teacher_features, weight, bias, sample_weight=None):
    m = len(student_features)
    w = np.ones(m) if sample_weight is None else sample_weight
    total = 0.0
    for i in range(m):
        projected = [
            sum(weight[o, d] * student_features[i, d] for d in range(weight.shape[1])) + bias[o]
            for o in range(len(bias))
        ]
        total += w[i] * 0.5 * sum((projected[o] - teacher_features[i, o]) ** 2 for o in range(len(bias)))
    return total / m


def huber(x):
    return 0.5 * x * x if abs(x) <= 1 else abs(x) - 0.5


def rkd(student_features, teacher_features, sample_weight=None):
    """(distance term, angle term) over ordered pairs and ordered triplets of distinct rows."""
    m = len(student_features)
    w = np.ones(m) if sample_weight is None else sample_weight
    pairs = [(i, j) for i in range(m) for j in range(m) if i != j]
    triplets = [(i, j, k) for i in range(m) for j in range(m) for k in range(m) if len({i, j, k}) == 3]

    def dist(x, i, j):
        return math.sqrt(sum((a - b) ** 2 for a, b in zip(x[i], x[j])))

    def mu(x):
        return sum(w[i] * w[j] * dist(x, i, j) for i, j in pairs) / sum(w[i] * w[j] for i, j in pairs)

    def cos_at(x, i, j, k):  # the angle at x_j; an equal pair of rows has no direction: 0
        u, v = x[i] - x[j], x[k] - x[j]
        norms = np.linalg.norm(u) * np.linalg.norm(v)
        return float(np.dot(u, v) / norms) if norms > 0 else 0.0

    s, t = student_features, teacher_features
    mu_s, mu_t = mu(s), mu(t)
    distance = sum(w[i] * w[j] * huber(dist(s, i, j) / mu_s - dist(t, i, j) / mu_t) for i, j in pairs) / len(pairs)
    angle = sum(w[i] * w[j] * w[k] * huber(cos_at(s, i, j, k) - cos_at(t, i, j, k)) for i, j, k in triplets)
    return distance, angle / len(triplets)
