"""Salience on a Dask cluster: joblib's dask backend gives the n_jobs=1 result."""

import numpy as np
import pytest
import torch
from distributed import Client, LocalCluster, get_task_stream
from joblib import parallel_config

from crossmodal import permutation_salience
from crossmodal.nets import MLP


@pytest.mark.slow
def test_salience_on_local_dask_cluster_equals_serial():
    torch.manual_seed(0)
    rng = np.random.RandomState(0)
    X_a = rng.randn(300, 12).astype(np.float32)
    X_b = rng.randn(300, 7).astype(np.float32)
    f_a, f_b = MLP(12, 3, hidden_sizes=(16,)), MLP(7, 3, hidden_sizes=())
    serial = permutation_salience(f_a, f_b, X_a, X_b, n_repeats=3, random_state=0, n_jobs=1)
    with (
        LocalCluster(
            n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1", dashboard_address=None
        ) as cluster,
        Client(cluster) as client,
    ):
        with parallel_config(backend="dask"), get_task_stream(client) as stream:
            distributed = permutation_salience(f_a, f_b, X_a, X_b, n_repeats=3, random_state=0, n_jobs=2)
        # the channel chunks really ran as tasks on the cluster's workers
        assert len(stream.data) >= 2
        assert {task["worker"] for task in stream.data} <= set(client.scheduler_info()["workers"])
    np.testing.assert_array_equal(distributed.importances, serial.importances)
