"""Making models smaller and faster: quantization-aware training, pruning, weight
clustering, attention-head pruning and knowledge distillation (TF-MOT where it applies)."""
