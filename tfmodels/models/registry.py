"""Which module builds and converts each family, and which class each architecture is.

``model_type`` (HF config.json) and ``family`` (our YAML) are the same names.
Adding a family means one line in each table below.
"""
import importlib

from tfmodels.errors import ConfigError

FAMILIES = {"bert": "tfmodels.models.bert",
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
            "t5": "tfmodels.models.t5"}
CONVERTERS = {"bert": "tfmodels.convert.bert",
              "albert": "tfmodels.convert.albert",
              "mobilebert": "tfmodels.convert.mobilebert",
              "roberta": "tfmodels.convert.roberta",
              "electra": "tfmodels.convert.electra",
              "distilbert": "tfmodels.convert.distilbert",
              "deberta-v2": "tfmodels.convert.deberta",
              "gpt2": "tfmodels.convert.gpt2",
              "xlnet": "tfmodels.convert.xlnet",
              "bart": "tfmodels.convert.bart",
              "t5": "tfmodels.convert.t5",
              "transformer": "tfmodels.convert.transformer"}


def family_module(family, source="model_type"):
    if family not in FAMILIES:
        raise ConfigError(f"{source}: unknown model family {family!r}; "
                          f"known: {', '.join(sorted(FAMILIES))}")
    return importlib.import_module(FAMILIES[family])


def converter_module(family):
    return importlib.import_module(CONVERTERS[family])


def model_class(family, architecture, source="architectures"):
    """The task model class for an architecture name such as ``BertForPreTraining``,
    or a task name (``backbone``, ``classification``, ``pretraining``, ``masked_lm``)."""
    module = family_module(family)
    if architecture in module.TASKS:
        return module.TASKS[architecture]
    classes = module.TASK_MODELS
    if architecture not in classes:
        raise ConfigError(f"{source}: unknown architecture {architecture!r} for {family}; "
                          f"known: {', '.join(sorted(classes))}")
    return classes[architecture]


def backbone_architecture(family):
    return next(iter(family_module(family).TASK_MODELS))
