"""Binding data to a model reads the model once, whatever the number of input shapes it tries."""

from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn

import snncc.importers.torch as torch_importer
from snncc import nn as snn
from snncc.data import Dataset
from snncc.errors import DataError
from snncc.ir import Input
from snncc.model_import import bind_torch, import_model
from snncc.options import CompileOptions, DataOptions

DIGITS = Path(__file__).resolve().parents[2] / "examples" / "digits"


@pytest.fixture
def reads(monkeypatch) -> list:
    """One entry per time a torch model is read (every read starts with the module-cycle check)."""
    calls: list = []
    check = torch_importer.reject_module_cycles
    monkeypatch.setattr(torch_importer, "reject_module_cycles", lambda m: (calls.append(m), check(m))[1])
    return calls


def input_shape(graph) -> tuple[int, ...]:
    return graph.of_type(Input)[0][1].shape


def test_a_data_file_both_readings_are_tried_on_one_read_of_the_model(reads):
    # (N, 1, 8, 8): one input of (1, 8, 8), or 1 step of (8, 8); two candidate shapes, one read
    options = CompileOptions(data=DataOptions(file=DIGITS / "test_data.npz"))
    dataset, graph = import_model(DIGITS / "model.pt", options)
    assert len(reads) == 1
    assert input_shape(graph) == (1, 8, 8) and dataset.x.shape[1:] == (1, 8, 8)


def test_the_bundled_digits_shapes_are_tried_on_one_read_of_the_model(reads):
    torch.manual_seed(0)
    flat = snn.SNN(nn.Sequential(nn.Linear(64, 10), snn.LIF()), steps=4)  # takes (64,), not (1, 8, 8)
    dataset, graph = bind_torch(flat, None, CompileOptions(), source="torch:flat")
    assert len(reads) == 1
    assert input_shape(graph) == (64,) and dataset.x.shape[1:] == (64,)


def test_a_shape_no_reading_fits_is_refused_after_one_read(reads):
    flat = snn.SNN(nn.Sequential(nn.Linear(64, 10), snn.LIF()), steps=4)
    with pytest.raises(DataError) as err:
        bind_torch(flat, Dataset(Path("<x>"), np.zeros((3, 5, 7)), None), CompileOptions(), source="torch:flat")
    assert err.value.code == "DAT008" and len(reads) == 1
