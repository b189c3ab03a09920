"""Ready-made pipelines, built with ``@opsloop.step`` and ``@opsloop.pipeline`` as a user's
own would be. ``retrain.retrain_pipeline`` closes the loop: labelled traffic → new dataset →
train → gate → canary → promote or roll back."""
