"""Many fits beyond one machine: a grid search on a Dask cluster through joblib."""

import numpy as np
from distributed import Client, LocalCluster
from joblib import parallel_backend
from sklearn.model_selection import GridSearchCV

from glassbox import MLPClassifier


def test_grid_search_on_a_local_dask_cluster_equals_the_local_run(digits):
    X_train, _, y_train, _ = digits
    grid = {"hidden_layer_sizes": [(8,), (32,)], "learning_rate_init": [1e-3, 1e-2]}

    def search():
        return GridSearchCV(MLPClassifier(max_iter=10, n_threads=1, random_state=0), grid, cv=3)

    local = search().fit(X_train, y_train)
    with LocalCluster(
        n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1",
        dashboard_address=None, protocol="tcp",
    ) as cluster, Client(cluster, timeout="60s") as client:
        assert len(client.scheduler_info()["workers"]) == 2
        with parallel_backend("dask"):
            remote = search().fit(X_train, y_train)
        ran_on = client.run(lambda: __import__("glassbox").__version__)
    assert len(ran_on) == 2
    np.testing.assert_array_equal(
        remote.cv_results_["mean_test_score"], local.cv_results_["mean_test_score"]
    )
    assert remote.best_params_ == local.best_params_
