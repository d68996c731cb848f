"""Which Keras 3 variables the trail hashes: every one a train step changes, on any backend.

Apart from keras3.py because the JAX and PyTorch recorders need it too, and keras3.py looks
those backends up (an import back would be a cycle). Keras 3 imports nothing here: the model's
own properties are read.
"""

from __future__ import annotations

from typing import Any


def trail_variables(model: Any) -> list[Any]:
    """Every Keras 3 variable a train step changes, each once, in a fixed order: ``model.weights``
    first, exactly as the trail always hashed them (so that a model whose state is only its
    weights keeps its trail), then the state Keras keeps outside the weights: the seed
    generators' uint32 state (Dropout, keras.random draws) and the metrics' variables.

    Left out: the loss tracker's (``loss``: every compiled model has it, so its two numbers
    would change every trail, and it only sums the losses the weights give) and the optimizer's
    (its iteration count and slots follow from the weights' updates)."""
    seen: set[int] = set()
    chosen: list[Any] = []

    def add(variables: Any) -> None:
        for variable in variables:
            if id(variable) not in seen:
                seen.add(id(variable))
                chosen.append(variable)

    add(model.weights)
    add(model.variables)  # weights and the seed generators' state (Layer.variables)
    tracker = getattr(model, "_loss_tracker", None)  # None before compile
    seen.update(id(v) for v in (tracker.variables if tracker is not None else ()))
    add(model.metrics_variables)
    return chosen
