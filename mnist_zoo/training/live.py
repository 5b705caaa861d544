"""DVCLive for a Keras fit on any backend: the one module of the package that imports DVC's
tracking library. The training stages pass `LiveCurves` to mnist_zoo.training.trainer as a callback."""

import keras
from dvclive import Live
from dvclive.utils import standardize_metric_name


class LiveCurves(keras.callbacks.Callback):
    """Log each epoch's metrics to DVCLive (train/* and eval/*), on any Keras backend.

    dvclive.keras imports TensorFlow, which the JAX and PyTorch backends may not have.
    """

    def __init__(self, live: Live) -> None:
        super().__init__()
        self.live = live

    def on_epoch_end(self, epoch: int, logs: dict[str, float] | None = None) -> None:
        for metric, value in (logs or {}).items():
            if metric.endswith(("loss", "accuracy")):
                self.live.log_metric(standardize_metric_name(metric, "dvclive.keras"), float(value))
        self.live.next_step()
