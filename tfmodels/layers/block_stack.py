"""A stack of encoder blocks applied in turn, and the last block's output at [CLS] alone.

A classifier reads one row of the last block's output, the first token's ([CLS], <s>).
That row attends over the whole sequence, so the last block still projects every
row's keys and values; but the other rows' queries, attention outputs, residual sums,
norms and feed-forward networks are not needed. Computed for the first row alone, the
last block costs little more than its key and value projections, 2 of its 12 H x H
matmuls with BERT's 4H feed-forward width: an L-block stack saves about 5/(6L) of its
matmuls (Model Garden's encoders do this with ``output_range=1``).
"""


def first_token_output(block, x, attention_mask=None, **block_args):
    """``block``'s output at the first position of ``x`` [B, S, H] alone: [B, H]. The
    block computes the row of ``x[:, :1]``, attending over ``x`` (its ``key_value``)."""
    return block(x[:, :1], attention_mask=attention_mask, key_value=x, **block_args)[:, 0]


def stack_outputs(
    blocks, x, attention_mask, first_token=False, pooler=None, attention_scores=False, **block_args
):
    """``blocks`` (block applications, in order: a block may appear more than once, as
    ALBERT's shared ones do) applied in turn to ``x``.

    Returns ``{sequence_output, encoder_outputs}`` (one encoder output per application)
    and
    - with ``attention_scores``, every application's attention probabilities;
    - with ``first_token``, ``first_token_output`` [B, H]: the last application's output
      at the first token from :func:`first_token_output`. Beside the full stack in a
      functional model it is what a classifier's graph computes of the last block; a
      model that reads ``sequence_output`` too computes both;
    - with a ``pooler``, ``pooled_output``: the pooler on the first token's output.
    ``block_args`` go to every block call (DeBERTa's relative embeddings).
    """
    outputs = {"encoder_outputs": [], "attention_scores": []}
    for block in blocks:
        last_input = x
        x, scores = block(
            x, attention_mask=attention_mask, return_attention_scores=True, **block_args
        )
        outputs["encoder_outputs"].append(x)
        outputs["attention_scores"].append(scores)
    outputs["sequence_output"] = first = x
    if first_token:
        outputs["first_token_output"] = first = first_token_output(
            blocks[-1], last_input, attention_mask, **block_args
        )
    if pooler is not None:
        outputs["pooled_output"] = pooler(first)
    if not attention_scores:
        del outputs["attention_scores"]
    return outputs
