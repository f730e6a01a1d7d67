"""The families, and lookups that read their declarations (each module's ``FAMILY``,
a :class:`tfmodels.models.family.Family`).

``model_type`` (HF config.json) and ``family`` (our YAML) are the same names. Adding a
family means writing its module with its ``FAMILY`` and one line here (CONTRIBUTING.md).
"""

import importlib

from tfmodels.errors import ConfigError

FAMILIES = {
    "bert": "tfmodels.models.bert",
    "albert": "tfmodels.models.albert",
    "mobilebert": "tfmodels.models.mobilebert",
    "roberta": "tfmodels.models.roberta",
    "electra": "tfmodels.models.electra",
    "distilbert": "tfmodels.models.distilbert",
    "deberta-v2": "tfmodels.models.deberta",
    "gpt2": "tfmodels.models.gpt2",
    "xlnet": "tfmodels.models.xlnet",
    "transformer": "tfmodels.models.transformer",
    "bart": "tfmodels.models.bart",
    "t5": "tfmodels.models.t5",
}


def family(name, source="model_type"):
    """The :class:`Family` called ``name``; ``source`` names the setting in the error."""
    if name not in FAMILIES:
        raise ConfigError(
            f"{source}: unknown model family {name!r}; known: {', '.join(sorted(FAMILIES))}"
        )
    return importlib.import_module(FAMILIES[name]).FAMILY


def converter_module(name):
    """The module with the family's HF weight map."""
    return importlib.import_module(family(name).converter)


def model_class(name, architecture, source="architectures"):
    """The task model class for an architecture name such as ``BertForPreTraining``,
    or a role (``backbone``, ``classification``, ``pretraining``, ``masked_lm``, ...)."""
    declared = family(name)
    if architecture in declared.tasks:
        return declared.tasks[architecture]
    classes = declared.architectures
    if architecture not in classes:
        raise ConfigError(
            f"{source}: unknown architecture {architecture!r} for {name}; "
            f"known: {', '.join(sorted(classes))}"
        )
    return classes[architecture]


def backbone_architecture(name):
    return family(name).backbone.architecture
