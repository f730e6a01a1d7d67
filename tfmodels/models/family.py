"""What defines a model family, declared once in the family's module (``FAMILY``).

The registries read these declarations: which class builds each role, which module
maps the HF checkpoint's weights, which tokenizer and packing its checkpoints use,
which pre-training objective it defaults to. ``CONTRIBUTING.md`` lists the steps of
adding one.
"""

import dataclasses
from typing import Mapping, Optional

# The tokenizer kinds preprocessor_from_pretrained builds (tfmodels/api.py), by the
# files a checkpoint folder holds.
TOKENIZERS = {
    "wordpiece": ("vocab.txt",),
    "byte_bpe": ("vocab.json", "merges.txt"),
    "sentencepiece": ("spiece.model",),
    "t5_sentencepiece": ("spiece.model",),
    "deberta_sentencepiece": ("spm.model",),
}


@dataclasses.dataclass(frozen=True)
class Family:
    """One family.

    Attributes:
      name: the HF ``model_type`` and our YAML's ``family``.
      config_class: the family's Config (``from_hf``, ``from_dict``).
      tasks: role -> task model class. Roles: ``backbone`` (required),
        ``pretraining``, ``masked_lm``, ``classification``, ``token_classification``,
        ``question_answering``, ``causal_lm``, ``seq2seq_lm``, ``lm``. Each class's
        ``architecture`` is its HF name; where two roles share a name, the first
        role's class is the one a checkpoint of that name loads as.
      converter: the module with the HF weight map (``PREFIX``, ``backbone_weights``,
        ``head_weights``).
      tokenizer: a :data:`TOKENIZERS` kind, or None where the folder's files decide.
      packing: how texts are joined (:class:`SegmentPacker` styles: ``bert``,
        ``roberta``, ``gpt2``).
      objective: the default pre-training objective (pretraining/registry.py).
      positions_after_padding: position ids start after ``pad_token_id`` (RoBERTa),
        so a text has that many positions fewer than ``max_position_embeddings``.
    """

    name: str
    config_class: type
    tasks: Mapping[str, type]
    converter: str
    tokenizer: Optional[str] = "wordpiece"
    packing: str = "bert"
    objective: Optional[str] = None
    positions_after_padding: bool = False

    def __post_init__(self):
        if "backbone" not in self.tasks:
            raise ValueError(f"family {self.name}: tasks needs a backbone")
        if self.tokenizer is not None and self.tokenizer not in TOKENIZERS:
            raise ValueError(f"family {self.name}: unknown tokenizer {self.tokenizer!r}")

    @property
    def backbone(self):
        return self.tasks["backbone"]

    @property
    def architectures(self):
        """HF architecture name -> class (the first role's class where names repeat)."""
        out = {}
        for cls in self.tasks.values():
            out.setdefault(cls.architecture, cls)
        return out
