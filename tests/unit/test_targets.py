"""Target descriptions: shipped files load; every malformed file gets its own clear error."""

from __future__ import annotations

from pathlib import Path

import pytest

from snncc.errors import TargetSpecError
from snncc.target import load_target
from snncc.target_loader import available_targets

INVALID = sorted((Path(__file__).resolve().parents[1] / "invalid" / "targets").glob("*.yaml"))


def expected_code(path: Path) -> str:
    first = path.read_text().splitlines()[0]
    assert first.startswith("# expect: ")
    return first.removeprefix("# expect: ").strip()


@pytest.mark.parametrize("name", ["loihi", "loihi2", "toy"])
def test_shipped_targets_load(name):
    t = load_target(name)
    assert t.name == name and t.total_cores >= 1
    for limit in (t.per_core.neurons, t.per_core.fan_in_axons, t.per_core.synapse_memory_bits):
        assert limit.value > 0 and limit.source
    assert t.input_encodings and t.energy.synop_pj.source


def test_loihi_numbers_match_the_papers():
    t = load_target("loihi")
    assert (int(t.cores_per_chip), int(t.per_core.neurons), int(t.per_core.fan_in_axons)) == (128, 1024, 4096)
    assert int(t.per_core.synapse_memory_bits) == 16384 * 64  # 128 KB of 64-bit words
    assert t.energy.synop_pj.value == 23.6 and t.energy.neuron_update_active_pj.value == 81.0
    assert t.input_encodings == ("bitplane",)  # binary spikes only
    assert t.neuron_features == frozenset({"reset_zero"})
    assert t.numerics.vth_bits == 17 and t.numerics.decay_bits == 12


def test_loihi2_marks_what_is_not_public():
    t = load_target("loihi2")
    assert t.per_core.fan_in_axons.confidence == "uncertain"
    assert t.energy.synop_pj.confidence == "uncertain"


@pytest.mark.parametrize("path", INVALID, ids=[p.stem for p in INVALID])
def test_invalid_targets(path):
    with pytest.raises(TargetSpecError) as err:
        load_target(path)
    assert err.value.code == expected_code(path)
    assert str(path.resolve()) in err.value.render()


def test_invalid_corpus_is_not_empty():
    assert len(INVALID) >= 10


def test_duplicate_key_names_the_key_and_line():
    path = next(p for p in INVALID if p.stem == "duplicate_key")
    with pytest.raises(TargetSpecError) as err:
        load_target(path)
    message = err.value.render()
    assert "duplicate key 'neurons'" in message and "line" in message


def test_schema_errors_name_the_yaml_path():
    path = next(p for p in INVALID if p.stem == "zero_limit")
    with pytest.raises(TargetSpecError) as err:
        load_target(path)
    assert "resources.per_core.neurons.value" in err.value.render()


def test_unknown_name_lists_the_available_targets():
    with pytest.raises(TargetSpecError) as err:
        load_target("loihi9")
    assert err.value.code == "TGT003"
    assert "loihi2" in err.value.render()


def test_search_path_override(tmp_path, monkeypatch):
    text = (Path(load_target("toy").path)).read_text().replace("name: toy", "name: mychip")
    (tmp_path / "mychip.yaml").write_text(text)
    monkeypatch.setenv("SNNCC_TARGETS", str(tmp_path))
    assert "mychip" in available_targets()
    assert load_target("mychip").name == "mychip"
