"""Which encoder families each TF-MOT method takes, exactly as the README states it.

Pruning and clustering wrap every family's classifier, and so does QAT: its scheme has
quantized versions of the layers of BERT (and its configurations), ALBERT, RoBERTa,
ELECTRA, DistilBERT, MobileBERT and DeBERTa-v2, and passes the TF op layers that only
slice ([CLS]) through. A family whose classifier has a layer QAT cannot quantize would be
refused with a ConfigError naming that layer; the table records it, and the table and
the README change together. The int8 conversion of each family's QAT model is tested in
``test_qat_families``.
"""

import pytest

from tfmodels.compression.clustering import cluster_model
from tfmodels.compression.pruning import prune_model
from tfmodels.compression.qat import quantize_model
from tfmodels.errors import ConfigError
from tfmodels.models import registry

TINY = dict(
    vocab_size=40,
    hidden_size=16,
    num_layers=1,
    num_heads=2,
    intermediate_size=32,
    max_position_embeddings=34,
)
EXTRA = {
    "albert": {"embedding_size": 8},
    "electra": {"embedding_size": 8},
    "mobilebert": {"embedding_size": 8, "intra_bottleneck_size": 8},
}
# family: the layer QAT refuses (None: QAT supported).
QAT_REFUSES = {
    "bert": None,
    "albert": None,
    "roberta": None,
    "electra": None,
    "distilbert": None,
    "mobilebert": None,
    "deberta-v2": None,
}


def classifier(family):
    declared = registry.family(family)
    return declared.tasks["classification"](
        declared.config_class(**TINY, **EXTRA.get(family, {})), num_labels=2
    )


def test_the_table_covers_every_family_with_a_classifier():
    assert set(QAT_REFUSES) == {
        f for f in registry.FAMILIES if "classification" in registry.family(f).tasks
    }


@pytest.mark.parametrize("family", QAT_REFUSES)
def test_pruning_clustering_and_qat_per_family(family):
    model = classifier(family)
    pruned = prune_model(model, 0.5, begin_step=0, end_step=100)
    assert any("prune_low_magnitude" in layer.name for layer in pruned.layers)
    clustered = cluster_model(classifier(family), 8)
    assert any("cluster" in layer.name for layer in clustered.layers)
    refused = QAT_REFUSES[family]
    if refused is None:
        qat = quantize_model(model)
        assert any("quant" in layer.name for layer in qat.layers)
    else:
        with pytest.raises(ConfigError, match=f"\\({refused}\\) is not supported by QAT"):
            quantize_model(model)
