"""Online prediction: input checks, loaded models, micro-batching, traffic plans, logging."""
