"""The estimators on a dask cluster (skipped without dask[distributed] and dask-ml).

One LocalCluster of 2 worker processes with 1 thread each serves every test
of this file: a hyperparameter search through joblib's dask backend, batch
prediction over a dask array, and streaming training with dask-ml's
Incremental on more data than one worker's memory limit.
"""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("sklearn")
da = pytest.importorskip("dask.array")
distributed = pytest.importorskip("distributed")
pytest.importorskip("dask_ml")

import joblib  # noqa: E402
from dask_ml.wrappers import Incremental  # noqa: E402
from sklearn.model_selection import GridSearchCV, KFold  # noqa: E402

import fastrnn  # noqa: E402
from fastrnn import RNNClassifier, RNNRegressor  # noqa: E402
from fastrnn.dask import FlatSequences, predict_blocks  # noqa: E402

pytestmark = pytest.mark.filterwarnings(
    # distributed's own shutdown noise, not fastrnn's
    "ignore::ResourceWarning", "ignore:Port .* is already in use:UserWarning")

WORKER_MEMORY = 600 * 2**20  # bytes: a worker with fastrnn, scikit-learn and dask-ml
                             # imported uses about 300 MiB of it


@pytest.fixture(scope="module")
def client():
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                  memory_limit=WORKER_MEMORY, dashboard_address=None) as cluster:
        with distributed.Client(cluster) as c:
            yield c


def cumsum_task(n, T, seed):
    rng = np.random.default_rng(seed)
    X = rng.uniform(-1, 1, size=(n, T, 1))
    return X, np.cumsum(X, axis=1) / 3


def test_workers_limit_fastrnn_to_their_thread(client):
    # dask's nannies set OMP_NUM_THREADS=1 for one-thread workers; fastrnn obeys
    assert set(client.run(fastrnn.get_num_threads).values()) == {1}
    assert client.submit(lambda: fastrnn.get_num_threads(), pure=False).result() == 1


def test_grid_search_on_the_cluster_scores_as_serial(client):
    X, y = cumsum_task(120, 10, 0)
    grid = {"n_hidden": [4, 12], "learning_rate": [1e-3, 0.02]}
    est = RNNRegressor(max_epochs=5, random_state=0)
    serial = GridSearchCV(est, grid, cv=KFold(3), n_jobs=1).fit(X, y)
    with distributed.get_task_stream(client) as tasks, joblib.parallel_backend("dask"):
        spread = GridSearchCV(est, grid, cv=KFold(3), n_jobs=-1).fit(X, y)
    assert len({t["worker"] for t in tasks.data}) == 2  # the fits ran on both workers
    keys = [f"split{i}_test_score" for i in range(3)] + ["mean_test_score"]
    for key in keys:
        np.testing.assert_array_equal(spread.cv_results_[key], serial.cv_results_[key])
    assert spread.best_params_ == serial.best_params_
    print("search scores (serial == dask):", serial.cv_results_["mean_test_score"])


def test_predict_over_a_dask_array_equals_predict(client):
    X, y = cumsum_task(203, 12, 1)
    lengths = np.random.default_rng(2).integers(3, 13, size=203)
    reg = RNNRegressor(n_hidden=8, max_epochs=3, random_state=0).fit(X, y, lengths=lengths)
    Xd = da.from_array(X, chunks=(50, 6, 1))  # chunks along the steps are joined
    out = predict_blocks(reg, Xd, lengths=da.from_array(lengths, chunks=70))
    assert out.numblocks[0] == 5 and out.dtype == np.float64
    np.testing.assert_array_equal(out.compute(), reg.predict(X, lengths=lengths))
    labels = np.where(X[:, 0, 0] > 0, "up", "down")
    clf = RNNClassifier(n_hidden=6, output_steps="last", max_epochs=3,
                        random_state=0).fit(X, labels)
    for method in ("predict", "predict_proba", "predict_log_proba"):
        got = predict_blocks(clf, Xd, method=method).compute()
        np.testing.assert_array_equal(got, getattr(clf, method)(X))
    print("distributed predict == local predict: regressor", out.shape,
          "classifier", got.shape)


def test_bad_predict_blocks_calls():
    X = da.zeros((4, 3, 1), chunks=2)
    with pytest.raises(fastrnn.NotFittedError):
        predict_blocks(RNNRegressor(), X)
    reg = RNNRegressor(n_hidden=2, max_epochs=1).fit(np.zeros((4, 3, 1)), np.zeros((4, 3)))
    with pytest.raises(ValueError, match="method must be one of"):
        predict_blocks(reg, X, method="score")
    with pytest.raises(ValueError, match=r"lengths must have shape \(4,\)"):
        predict_blocks(reg, X, lengths=np.ones(3, dtype=int))
    with pytest.raises(ValueError, match="3-D dask array"):
        predict_blocks(reg, da.zeros(4))


def _streamed_sequences(n, T, D, chunk):
    """A lazy dask array of n random sequences, each chunk drawn by its own task."""
    def draw(block_id=None):
        return np.random.default_rng(block_id[0]).standard_normal((chunk, T, D),
                                                                  dtype=np.float32)
    return da.map_blocks(draw, dtype=np.float32, chunks=((chunk,) * (n // chunk), (T,), (D,)))


def _target(X):
    """A known task: the mean of feature 0 over the steps plus half of feature 1 at
    the last step (one target per sequence)."""
    return X[:, :, 0].mean(axis=1) + 0.5 * X[:, -1, 1]


def test_incremental_streams_more_data_than_a_worker_holds(client):
    n, T, D, chunk = 163840, 4, 256, 8192
    X = _streamed_sequences(n, T, D, chunk)
    assert X.nbytes > WORKER_MEMORY  # 640 MiB of sequences, 600 MiB per worker
    y = _target(X)
    model = FlatSequences(RNNRegressor(n_hidden=8, output_steps="last", learning_rate=0.01,
                                       batch_size=128, random_state=0), n_steps=T)
    inc = Incremental(model, random_state=0).fit(X.reshape(n, T * D), y)
    fitted = inc.estimator_.estimator_
    assert fitted.n_iter_ == n // chunk  # one partial_fit per block, each block once
    test = np.random.default_rng(12345).standard_normal((4000, T, D), dtype=np.float32)
    r2 = fitted.score(test, _target(test))
    print(f"Incremental: {X.nbytes / 2**20:.0f} MiB in {n // chunk} blocks, "
          f"held-out R^2 = {r2:.3f}")
    assert r2 > 0.85
    # the wrapper's own predict and score read flattened rows
    flat = test.reshape(4000, T * D)
    np.testing.assert_array_equal(inc.estimator_.predict(flat), fitted.predict(test))


def test_flat_sequences_wrapper():
    from sklearn.base import clone, is_classifier

    X, y = cumsum_task(30, 5, 3)
    labels = (y[:, -1, 0] > 0).astype(int)
    wrapped = FlatSequences(RNNClassifier(n_hidden=4, output_steps="last", max_epochs=2,
                                          random_state=0), n_steps=5)
    assert is_classifier(wrapped)
    copy = clone(wrapped).set_params(estimator__n_hidden=6)
    assert copy.estimator.n_hidden == 6 and wrapped.estimator.n_hidden == 4
    with pytest.raises(fastrnn.NotFittedError):
        wrapped.predict(X.reshape(30, 5))
    wrapped.partial_fit(X.reshape(30, 5), labels, classes=[0, 1])
    wrapped.partial_fit(X.reshape(30, 5), labels)
    direct = RNNClassifier(n_hidden=4, output_steps="last", max_epochs=2, random_state=0)
    direct.partial_fit(X, labels, classes=[0, 1]).partial_fit(X, labels)
    np.testing.assert_array_equal(wrapped.predict_proba(X.reshape(30, 5)),
                                  direct.predict_proba(X))
    assert wrapped.classes_.tolist() == [0, 1]
    assert wrapped.score(X.reshape(30, 5), labels) == direct.score(X, labels)
    with pytest.raises(ValueError, match="multiple of n_steps=5"):
        wrapped.predict(np.zeros((3, 7)))
    with pytest.raises(ValueError, match="Invalid parameter"):
        wrapped.set_params(n_hidden=3)
