"""One choice of verification data (snncc.data.verification_data) for torch and NIR compiles and for
`snncc simulate`: the user's --data, else the bundled digits in the model's shape, their labels only
where the model scores ten classes."""

import nir
import numpy as np
import pytest

from snncc.compile import CompileOptions, compile_model
from snncc.data import BUNDLED_DIGITS, load_dataset, verification_data
from snncc.errors import DataError
from snncc.importers.nir import import_nir_file
from snncc.options import DataOptions, ModelOptions, VerificationOptions
from snncc.report import write_report
from snncc.simulate import simulate_artifact


def three_class_nir(path, inputs: int = 64) -> None:
    """64 pixels -> 3 LIF neurons: a model of fewer classes than the digits' ten labels."""
    weight = np.random.default_rng(0).normal(0, 0.5, (3, inputs))
    nodes = {
        "in": nir.Input({"input": np.array([inputs])}),
        "w": nir.Linear(weight),
        "lif": nir.LIF(tau=np.full(3, 0.01), r=np.ones(3), v_leak=np.zeros(3), v_threshold=np.full(3, 0.5)),
        "out": nir.Output({"output": np.array([3])}),
    }
    nir.write(str(path), nir.NIRGraph(nodes=nodes, edges=[("in", "w"), ("w", "lif"), ("lif", "out")]))


def test_the_bundled_digits_come_in_the_model_shape_with_labels_for_ten_classes():
    digits = load_dataset(BUNDLED_DIGITS)
    flat = verification_data(None, input_shape=(64,), classes=10)
    np.testing.assert_array_equal(flat.x, digits.x.reshape(len(digits), 64))
    np.testing.assert_array_equal(flat.y, digits.y)
    assert verification_data(None, input_shape=(1, 8, 8), classes=3).y is None  # labels 3-9 mean nothing


def test_the_bundled_digits_do_not_fit_another_shape_and_the_error_says_what_to_pass():
    with pytest.raises(DataError) as err:
        verification_data(None, input_shape=(8, 8))
    assert err.value.code == "DAT011" and "(8, 8)" in err.value.render() and "--data" in err.value.render()


def test_given_data_is_checked_against_the_model_shape_and_keeps_its_labels(tmp_path):
    path = tmp_path / "d.npz"
    np.savez(path, x=np.zeros((4, 2, 3)), y=np.array([0, 5, 7, 1]))
    assert verification_data(path, input_shape=(2, 3), classes=2).y.tolist() == [0, 5, 7, 1]
    with pytest.raises(DataError) as err:
        verification_data(path, input_shape=(6,))
    assert err.value.code == "DAT008"


def test_a_nir_model_of_three_classes_is_verified_on_the_digits_by_agreement(tmp_path):
    """As a torch model of three classes is: before, the NIR import kept the labels 0-9 and the
    compile stopped with DAT014 though the user gave no data."""
    three_class_nir(tmp_path / "m.nir")
    dataset, _graph = import_nir_file(tmp_path / "m.nir", dt=1e-3, steps=4, readout="sum")
    assert dataset.y is None and dataset.x.shape == (len(load_dataset(BUNDLED_DIGITS)), 64)
    options = CompileOptions(
        model=ModelOptions(dt=1e-3, steps=4, readout="sum"),
        verification=VerificationOptions(min_output_agreement=0.0),
        data=DataOptions(samples=60, calibration_samples=32),
    )
    result = compile_model(tmp_path / "m.nir", options)
    assert result.comparison.verification.deployed_accuracy is None
    write_report(result, tmp_path / "out")
    simulated = simulate_artifact(tmp_path / "out", samples=20)  # the same choice when simulating it
    assert simulated["samples"] == 20 and simulated["float_accuracy"] is None
    assert simulated["deployed_accuracy"] is None and 0.0 <= simulated["output_agreement"] <= 1.0
