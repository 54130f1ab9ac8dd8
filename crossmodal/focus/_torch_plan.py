"""The generic torch plan of :func:`crossmodal.permutation_salience` (any module, CPU or CUDA).

Many permuted copies of the channel matrix ``Z`` (the input of ``module_a``,
or the output of its hidden layer ``layer``) are stacked into one forward
pass of at most ``rows`` rows. When ``layer`` is not a split point of an
``nn.Sequential`` chain, the whole of ``module_a`` runs with a forward hook
that swaps the layer's output for the permuted activations. Like
:class:`crossmodal.focus._rank_one_plan.RankOnePlan`, the plan returns, per pair
``(channel, repeat)``, the distance summed over rows (and classes).
"""

import threading
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from crossmodal.focus._distances import Distance

__all__ = ["TorchPlan", "check_logits_shape"]


def check_logits_shape(logits, expected):
    """Raise a ValueError naming both shapes when ``module_a``'s logits on permuted rows are not ``expected``."""
    if tuple(logits.shape) != tuple(expected):
        raise ValueError(
            f"module_a returned logits of shape {tuple(logits.shape)} on permuted rows; expected {tuple(expected)} "
            "(one row per sample, one column per logit of module_b)."
        )


@dataclass
class TorchPlan:
    """State of the generic path (any module, the module's device)."""

    Z: torch.Tensor  # (n_samples, n_channels, ...) on the device: what gets permuted
    forward: nn.Module  # suffix run on permuted Z (split mode); unused in hook mode
    ref: torch.Tensor  # (n_samples, n_classes) float64 on the device: the distance's reference rows ...
    aux: torch.Tensor  # (n_samples,) float64: ... and per-row constants
    distance: Distance
    rows: int  # max rows per forward pass
    module: nn.Module = None  # hook mode: the whole module_a ...
    target: nn.Module = None  # ... the layer whose output is replaced ...
    X: torch.Tensor = None  # ... and its input

    def threads_over_channels(self, n_pairs):
        """Never: torch's intra-op threads serve one job."""
        return False

    def bytes_per_channel(self, n_samples, n_repeats):
        """Bytes that evaluating one channel holds: its permutations (drawn, then as int64)."""
        return n_samples * 16 * n_repeats

    def run(self, Zb, rows):
        """Logits of ``module_a`` when ``Z``'s rows ``rows`` are replaced by ``Zb``."""
        if self.target is None:
            return self.forward(Zb)
        owner = threading.get_ident()
        calls = []

        def swap(_module, _inputs, _output):
            if threading.get_ident() == owner:
                calls.append(1)
                return Zb
            return None

        handle = self.target.register_forward_hook(swap)
        try:
            out = self.module(self.X[rows])
        finally:
            handle.remove()
        if len(calls) != 1:
            raise ValueError(
                f"layer {type(self.target).__name__} ran {len(calls)} times in one forward pass of module_a; "
                "permuting its channels needs a layer that runs exactly once."
            )
        return out

    def row_distances(self, logits, rows):
        """Per-row distance (float64) of ``logits`` to the partner rows ``rows``."""
        expected = (len(rows), self.ref.shape[1])
        if tuple(logits.shape) != expected:
            check_logits_shape(logits, expected)
        return self.distance.row_sums(logits.to(torch.float64), self.ref[rows], self.aux[rows])

    def evaluate(self, channels, perms, parallel=None):
        """Distances summed over rows, shape ``(len(channels), n_repeats)``."""
        n_chunk, n_repeats, n_samples = perms.shape
        device = self.Z.device
        perms_t = torch.as_tensor(perms, device=device).long().reshape(n_chunk * n_repeats, n_samples)
        pair_channel = torch.as_tensor(np.repeat(np.asarray(channels), n_repeats), device=device)
        n_pairs = n_chunk * n_repeats
        totals = torch.zeros(n_pairs, dtype=torch.float64, device=device)
        if n_samples <= self.rows:
            # pairs of one channel per forward pass, as in _segment_blocks
            per_forward = min(n_repeats, self.rows // n_samples)
            all_rows = torch.arange(n_samples, device=device)
            for start in [c * n_repeats + m0 for c in range(n_chunk) for m0 in range(0, n_repeats, per_forward)]:
                stop = start + min(per_forward, n_repeats - start % n_repeats)
                g = stop - start
                Zb = self.Z.repeat((g,) + (1,) * (self.Z.ndim - 1))
                view = Zb.view((g, n_samples) + tuple(self.Z.shape[1:]))
                ch = pair_channel[start:stop, None]
                view[torch.arange(g, device=device)[:, None], all_rows[None, :], ch] = self.Z[perms_t[start:stop], ch]
                rows = all_rows.repeat(g)
                dist = self.row_distances(self.run(Zb, rows), rows)
                totals[start:stop] = dist.view(g, n_samples).sum(dim=1)
        else:
            for p in range(n_pairs):
                ch = int(pair_channel[p])
                for r0 in range(0, n_samples, self.rows):
                    rows = torch.arange(r0, min(n_samples, r0 + self.rows), device=device)
                    Zb = self.Z[rows].clone()
                    Zb[:, ch] = self.Z[perms_t[p, rows], ch]
                    totals[p] += self.row_distances(self.run(Zb, rows), rows).sum()
        return totals.reshape(n_chunk, n_repeats).cpu().numpy()
