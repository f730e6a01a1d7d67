"""Which pre-training objective each name is: records, reader features, pretrainer, loss.

One entry per objective. Hooks are ``"module:attribute"`` strings looked up only
when the objective is used (an entry naming a missing hook says "not wired yet"
instead of failing at import). Hook contracts:

- ``examples(documents, vocab, options, rng)`` -> ``tf.train.Example`` iterable
  (``documents`` of token strings; ``vocab`` a :class:`records.Vocabulary`,
  ``options`` a :class:`records.RecordOptions`): what create_pretraining_data writes;
- ``loss(model, batch, training)`` -> ``(loss, metrics)``: the Trainer's ``loss_fn``;
- ``build(cfg, init_checkpoint)`` -> model, for pretrainers outside the family
  tables (ELECTRA's generator + discriminator); otherwise ``architecture`` is a
  family task name (``pretraining``, ``masked_lm``) or a ``"module:Class"``
  constructed with the model's Config;
- ``extra_features(seq_length, max_predictions)`` -> more ``tf.io`` parsing specs.

Default per family: its declared ``FAMILY.objective``; ``task.objective`` (or the
``--objective`` flag) overrides it.
"""

import dataclasses
import importlib
from typing import Optional, Tuple

from tfmodels.errors import ConfigError


@dataclasses.dataclass(frozen=True)
class Objective:
    name: str
    paper: str
    examples: str
    loss: str
    architecture: str = "pretraining"
    build: Optional[str] = None
    needs: Tuple[str, ...] = ("mlm_head",)  # model attributes the loss uses
    sentence_labels: bool = False  # records carry next_sentence_labels
    masking: str = "static"  # create_pretraining_data's default; "none":
    #                                          the objective reads no masked-LM positions
    saves: Tuple[Tuple[str, Optional[str]], ...] = (("hf_model", None),)  # (folder, attribute)
    extra_features: Optional[str] = None

    def hook(self, field):
        """The object a hook string names; ConfigError while it does not exist."""
        module_name, _, attribute = getattr(self, field).partition(":")
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as e:
            if e.name and module_name.startswith(e.name):  # the module itself, not a dependency
                raise ConfigError(
                    f"objective {self.name!r} ({self.paper}) is not wired yet: "
                    f"{module_name} does not exist"
                ) from None
            raise
        if not hasattr(module, attribute):
            raise ConfigError(
                f"objective {self.name!r} ({self.paper}) is not wired yet: "
                f"{module_name} has no {attribute}"
            )
        return getattr(module, attribute)


_RECORDS = "tfmodels.pretraining.records"
_LOSSES = "tfmodels.pretraining.objectives"
_SEQ2SEQ = "tfmodels.pretraining.seq2seq"
OBJECTIVES = {
    o.name: o
    for o in (
        Objective(
            "mlm_nsp",
            "BERT, Devlin et al. 2019, 3.1",
            f"{_RECORDS}:next_sentence_examples",
            f"{_LOSSES}:pretraining_loss",
            needs=("mlm_head", "sentence_head"),
            sentence_labels=True,
        ),
        Objective(
            "mlm",
            "RoBERTa, Liu et al. 2019, 4.1-4.2",
            f"{_RECORDS}:full_sentence_examples",
            f"{_LOSSES}:masked_lm_only_loss",
            architecture="masked_lm",
            masking="dynamic",
        ),
        Objective(
            "mlm_sop",
            "ALBERT, Lan et al. 2020, 3.1",
            f"{_RECORDS}:sentence_order_examples",
            f"{_LOSSES}:sentence_order_loss",
            needs=("mlm_head", "sentence_head"),
            sentence_labels=True,
        ),
        Objective(
            "rtd",
            "ELECTRA, Clark et al. 2020, 2",
            f"{_RECORDS}:segment_pair_examples",
            "tfmodels.pretraining.replaced_token_detection:electra_pretraining_loss",
            build="tfmodels.pretraining.pretrain_experiment:build_electra_pretrainer",
            needs=("generator", "discriminator"),
            masking="dynamic",
            saves=(("hf_model", "discriminator"), ("hf_generator", "generator")),
        ),
        Objective(
            "span",
            "SpanBERT, Joshi et al. 2020, 3",
            "tfmodels.pretraining.span_masking:span_examples",
            "tfmodels.pretraining.span_objective:span_pretraining_loss",
            architecture="tfmodels.models.spanbert:SpanBertForPreTraining",
            needs=("mlm_head", "sbo_head"),
            extra_features="tfmodels.pretraining.span_masking:span_features",
            saves=(("hf_model", "released_encoder"),),
        ),  # a BertModel, as SpanBERT ships
        Objective(
            "rtd_gdes",
            "DeBERTaV3, He et al. 2023, 3.2",
            f"{_RECORDS}:segment_pair_examples",
            "tfmodels.pretraining.gdes:gdes_pretraining_loss",
            build="tfmodels.pretraining.gdes:build_pretrainer",
            needs=("generator", "discriminator"),
            masking="dynamic",
            saves=(("hf_model", "discriminator_backbone"), ("hf_generator", "generator")),
        ),
        Objective(
            "causal_lm",
            "GPT-2, Radford et al. 2019, 2",
            "tfmodels.pretraining.causal_lm:causal_lm_examples",
            "tfmodels.pretraining.causal_lm:causal_lm_loss",
            architecture="causal_lm",
            needs=("lm_head",),
            masking="none",
            extra_features="tfmodels.pretraining.causal_lm:causal_lm_features",
        ),
        Objective(
            "span_corruption",
            "T5, Raffel et al. 2020, 3.1.4",
            "tfmodels.pretraining.span_corruption:span_corruption_examples",
            f"{_SEQ2SEQ}:seq2seq_lm_loss",
            architecture="seq2seq_lm",
            needs=("lm_head",),
            masking="none",
            extra_features="tfmodels.pretraining.span_corruption:span_corruption_features",
        ),
        Objective(
            "denoising",
            "BART, Lewis et al. 2020, 2.2",
            "tfmodels.pretraining.denoising:denoising_examples",
            f"{_SEQ2SEQ}:seq2seq_lm_loss",
            architecture="seq2seq_lm",
            needs=("lm_head",),
            masking="none",
            extra_features="tfmodels.pretraining.denoising:denoising_features",
        ),
        Objective(
            "permutation_lm",
            "XLNet, Yang et al. 2019, 2.2-2.3",
            "tfmodels.pretraining.permutation:permutation_examples",
            "tfmodels.pretraining.permutation:permutation_lm_loss",
            needs=("lm_head",),
            masking="none",
            extra_features="tfmodels.pretraining.permutation:permutation_features",
        ),
    )
}


def family_default(family):
    """The objective the family declares (its ``FAMILY.objective``), or None."""
    from tfmodels.models.registry import FAMILIES
    from tfmodels.models.registry import family as declared

    return declared(family).objective if family in FAMILIES else None


def get_objective(name, source="task.objective"):
    """The :class:`Objective` called ``name``, its hooks checked; ConfigError naming
    ``source`` when the name is unknown or its modules are not there yet."""
    if name not in OBJECTIVES:
        raise ConfigError(
            f"{source}: unknown pre-training objective {name!r}; known: {', '.join(OBJECTIVES)}"
        )
    objective = OBJECTIVES[name]
    for field in ("examples", "loss", "build", "architecture", "extra_features"):
        if ":" in (getattr(objective, field) or ""):
            try:
                objective.hook(field)
            except ConfigError as e:
                raise ConfigError(f"{source}: {e}") from None
    return objective


def objective_for(name, family, source="task.objective"):
    """``name`` if given, else the family's default objective."""
    if name:
        return get_objective(name, source)
    default = family_default(family)
    if default is None:
        raise ConfigError(
            f"{source}: no default pre-training objective for model family "
            f"{family!r}; set one of {', '.join(sorted(OBJECTIVES))}"
        )
    return get_objective(default, source)


def check_model(objective, model, family):
    """ConfigError when ``model`` lacks what ``objective``'s loss uses (e.g. mlm_sop on
    RoBERTa, whose pre-training model has no sentence head)."""
    missing = [a for a in objective.needs if getattr(model, a, None) is None]
    if missing:
        name = getattr(model, "architecture", None) or type(model).__name__
        _misfit(
            objective,
            family,
            f"the model's {' and '.join(missing)}, but the {family} model {name} has none",
        )


def check_family(objective, family):
    """ConfigError, before anything is built, when ``family`` has no task model of the
    objective's ``architecture`` (e.g. mlm on GPT-2, which has no masked-LM model)."""
    if objective.build or ":" in objective.architecture:
        return
    from tfmodels.models.registry import family as declared

    if objective.architecture not in declared(family).tasks:
        _misfit(
            objective, family, f"a {objective.architecture} model, but the {family} family has none"
        )


def _misfit(objective, family, what):
    raise ConfigError(
        f"objective {objective.name!r} ({objective.paper}) needs {what}; "
        f"pick an objective the {family} family can run "
        f"(default: {family_default(family) or 'none'})"
    )
