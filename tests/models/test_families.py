"""Each family's declaration (its module's ``FAMILY``) is complete and consistent: the
registries read nothing else about a family."""

import importlib

import pytest

from tfmodels.models import registry
from tfmodels.models.family import TOKENIZERS
from tfmodels.pretraining import registry as objectives


@pytest.mark.parametrize("name", sorted(registry.FAMILIES))
def test_declaration(name):
    family = registry.family(name)
    assert family.name == name
    # Roles are looked up by name, never by order; each class carries its HF name.
    backbone = family.backbone
    assert registry.backbone_architecture(name) == backbone.architecture
    assert registry.model_class(name, "backbone") is backbone
    for role, cls in family.tasks.items():
        assert registry.model_class(name, role) is cls
        assert registry.model_class(name, cls.architecture).architecture == cls.architecture
    converter = registry.converter_module(name)
    assert isinstance(converter.PREFIX, str)
    assert callable(converter.backbone_weights) and callable(converter.head_weights)
    assert family.tokenizer is None or family.tokenizer in TOKENIZERS
    assert family.packing in ("bert", "roberta", "gpt2")
    assert hasattr(family.config_class, "from_hf") and hasattr(family.config_class, "from_dict")
    if family.objective is not None:  # the default objective runs on this family
        objective = objectives.objective_for(None, name)
        assert objective.name == family.objective
        objectives.check_family(objective, name)


def test_the_families_are_the_modules_that_declare_one():
    declared = {
        importlib.import_module(module).FAMILY.name for module in registry.FAMILIES.values()
    }
    assert declared == set(registry.FAMILIES)
