"""Train Keras image classifiers on folders prepared by `dataprep`.

`trainer.data` builds cached tf.data pipelines, `trainer.models` holds the model registry,
`trainer.fit` trains into a self-explaining run folder, `trainer.evaluate` and `trainer.predict`
answer from a run folder, `trainer.bench` measures the input pipeline. Only `trainer.cli` prints.
"""

from __future__ import annotations

__all__ = ["__version__"]

__version__ = "0.1.0"
