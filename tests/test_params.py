"""The hyperparameter table (fastrnn._params): one entry per hyperparameter,
one checking loop, the first bad value named."""

from __future__ import annotations

import dataclasses
import inspect

import numpy as np
import pytest

from fastrnn import RNNClassifier, RNNRegressor
from fastrnn._params import PARAMETERS, Config, check_param, check_params


@pytest.mark.parametrize("cls", [RNNRegressor, RNNClassifier])
def test_every_hyperparameter_has_one_rule(cls):
    names = set(inspect.signature(cls.__init__).parameters) - {"self"}
    assert set(cls._parameter_constraints) == names
    assert {f.name for f in dataclasses.fields(Config)} == names - {"random_state"}


def test_defaults_check_into_a_frozen_config():
    cfg = check_params("Est", RNNRegressor().get_params())
    assert cfg.dtype == np.dtype(np.float32) and cfg.n_hidden == (64,)
    assert cfg.clip_norm == 5.0 and cfg.bptt_steps is None and cfg.output_steps == "all"
    with pytest.raises(dataclasses.FrozenInstanceError):
        cfg.n_hidden = 3


def test_values_are_converted():
    # n_hidden: the size of each layer, a tuple of int
    assert check_param("Est", "n_hidden", np.int64(5)) == (5,)
    assert type(check_param("Est", "n_hidden", np.int64(5))[0]) is int
    assert check_param("Est", "n_hidden", [np.int32(4), 3]) == (4, 3)
    assert type(check_param("Est", "learning_rate", np.float32(0.5))) is float
    assert check_param("Est", "output_steps", np.int32(3)) == 3
    assert check_param("Est", "verbose", True) == 1
    assert check_param("Est", "dtype", "float64") == np.dtype(np.float64)
    assert check_param("Est", "n_threads", None) is None


def test_the_first_bad_value_in_table_order_is_named():
    params = dict(RNNRegressor().get_params(), n_hidden=0, activation="sigmoid")
    first = next(name for name in PARAMETERS if name in ("n_hidden", "activation"))
    with pytest.raises(ValueError, match=rf"^Est: {first} must be"):
        check_params("Est", params)


def test_a_class_adds_its_own_rules():
    with pytest.raises(ValueError, match="readout=False is not supported"):
        RNNClassifier(readout=False)._check_hyperparameters()
    with pytest.raises(ValueError, match="RNNClassifier: readout must be True or False"):
        RNNClassifier(readout="no")._check_hyperparameters()
    assert RNNRegressor(readout=False)._check_hyperparameters().readout is False
