"""The target file format has one description, targets/schema/target.schema.json, which the loader
validates every file against; the frozen dataclasses the loader builds (snncc/target.py, Numerics)
must have exactly the fields it describes.  A field in one and not the other would be a load-time
TypeError, or, for Numerics with its defaults, a value silently taken from the default."""

from __future__ import annotations

import dataclasses
import json

import pytest

from snncc.families import FAMILIES
from snncc.ir import Numerics
from snncc.ir.families import FAMILIES as IR_FAMILIES
from snncc.target import CoreLimits, EnergyModel, Target
from snncc.target_loader import SCHEMA_PATH

SCHEMA = json.loads(SCHEMA_PATH.read_text())
RESOURCES = SCHEMA["properties"]["resources"]
FILE_ONLY = {"schema", "resources"}  # the format tag, and the grouping of Target's resource fields
# where the Target was loaded from; the sources of two numerics entries; what a family's own section holds
NOT_IN_FILE = {"path", "accumulator", "family_part"}
SECTIONS = {f.section: f for f in FAMILIES.values() if f.section is not None}  # each family's part of the schema


def _field_names(cls: type) -> set[str]:
    return {f.name for f in dataclasses.fields(cls)}


def _required_fields(cls: type) -> set[str]:
    no_default = dataclasses.MISSING
    return {f.name for f in dataclasses.fields(cls) if f.default is no_default and f.default_factory is no_default}


def _compare(cls: type, described: set[str], where: str) -> list[str]:
    return [
        f"{cls.__name__}.{name} is not in the schema's {where}" for name in sorted(_field_names(cls) - described)
    ] + [
        f"the schema's {where}.{name} is not a field of {cls.__name__}"
        for name in sorted(described - _field_names(cls))
    ]


@pytest.mark.parametrize(
    ("cls", "section", "where"),
    [
        (Numerics, SCHEMA["properties"]["numerics"], "numerics"),
        (CoreLimits, RESOURCES["properties"]["per_core"], "resources.per_core"),
        (EnergyModel, SCHEMA["properties"]["energy"], "energy"),
    ],
    ids=["numerics", "per_core", "energy"],
)
def test_sections_have_the_fields_of_their_dataclass(cls, section, where):
    assert not (problems := _compare(cls, set(section["properties"]), where)), "; ".join(problems)


@pytest.mark.parametrize(("cls", "section"), [(CoreLimits, ("resources", "per_core")), (EnergyModel, ("energy",))])
def test_required_entries_are_the_fields_without_default(cls, section):
    schema = SCHEMA["properties"][section[0]]
    for key in section[1:]:
        schema = schema["properties"][key]
    assert set(schema["required"]) == _required_fields(cls)


# a feature's limit that a target file may leave out, taking Lava's value (delays: DelayDense's 63);
# the integer verifier and the xylo family's own refusal (GRF054) keep an omission safe
OPTIONAL_NUMERICS = {"max_delay"}


def test_numerics_in_a_target_file_are_complete():
    """Numerics has defaults (Lava's), but a target file must state every format, not inherit them."""
    numerics = SCHEMA["properties"]["numerics"]
    assert set(numerics["required"]) == _field_names(Numerics) - OPTIONAL_NUMERICS
    assert set(numerics["properties"]) >= OPTIONAL_NUMERICS


def test_target_fields_are_the_top_level_and_resource_entries():
    described = (set(SCHEMA["properties"]) - FILE_ONLY - set(SECTIONS)) | set(RESOURCES["properties"]) | NOT_IN_FILE
    assert not (problems := _compare(Target, described, "top level or resources")), "; ".join(problems)
    assert set(SCHEMA["required"]) - FILE_ONLY == _required_fields(Target) - NOT_IN_FILE - set(RESOURCES["properties"])


def test_the_schema_names_the_registered_families():
    """numerics.family's enum is the plug-ins' names: a family the schema admits has a plug-in on both sides."""
    assert set(SCHEMA["properties"]["numerics"]["properties"]["family"]["enum"]) == set(FAMILIES) == set(IR_FAMILIES)


@pytest.mark.parametrize("section", sorted(SECTIONS))
def test_a_family_section_has_the_fields_of_its_dataclass(section):
    family = SECTIONS[section]
    schema = SCHEMA["properties"][section]
    assert not (problems := _compare(family.section_type, set(schema["properties"]), section)), "; ".join(problems)
    assert set(schema["required"]) == _required_fields(family.section_type)
    assert set(family.section_ranges) <= set(schema["properties"])
