"""``model_dir/best``: the weights of the evaluation with the best main metric so far.

Evaluations run at checkpoint steps unless ``eval_every`` says otherwise, so the
training checkpoint of that step already holds the weights on disk. Its files are
hard-linked into ``best/`` instead of writing the model a second time (MiniLM: 0.4 s
per new best, three times in the demo's run); the link keeps the data when the
training checkpoint rotates out, so ``best/`` then holds the optimizer slots too
(restoring the model alone ignores them). Where the step has no training checkpoint,
or the filesystem has no hard links (``gs://``, ``ram://``, another device), the model
alone is saved there, as a ``tf.train.CheckpointManager`` keeping one.
"""

import glob
import os

import tensorflow as tf


def keep(model, best_dir, step, training_checkpoint=None):
    """Makes ``best_dir`` hold the weights of ``step`` (``training_checkpoint``: the
    prefix of that step's training checkpoint, if one was written); returns the prefix
    of the kept checkpoint. The previous best is removed."""
    linked = training_checkpoint and _link(training_checkpoint, best_dir)
    if linked:
        return linked
    manager = tf.train.CheckpointManager(tf.train.Checkpoint(model=model), best_dir, max_to_keep=1)
    return manager.save(checkpoint_number=step)


def _link(prefix, folder):
    """Hard links of checkpoint ``prefix``'s files in ``folder``, made its latest and
    only checkpoint; None where they cannot be made."""
    if "://" in prefix or "://" in folder:
        return None
    files = glob.glob(glob.escape(prefix) + ".*")  # .index and .data-*-of-*
    if not files:
        return None
    os.makedirs(folder, exist_ok=True)
    checkpoint = os.path.basename(prefix)
    previous = set(glob.glob(os.path.join(glob.escape(folder), "ckpt-*")))
    made = []
    try:
        for name in files:
            link = os.path.join(folder, os.path.basename(name))
            if os.path.exists(link):  # the same step again (a resumed run)
                os.remove(link)
            os.link(name, link)
            made.append(link)
    except OSError:
        for link in made:
            os.remove(link)
        return None
    # A relative path, as CheckpointManager writes it: the run folder can move. The folder
    # is made absolute: under a relative one TF rewrites the path relative to the working
    # directory ("../../../ckpt-150" for runs/demo/best), which nothing can then find.
    tf.compat.v1.train.update_checkpoint_state(
        os.path.abspath(folder), checkpoint, all_model_checkpoint_paths=[checkpoint]
    )
    for name in previous - set(made):
        os.remove(name)
    return os.path.join(folder, checkpoint)
