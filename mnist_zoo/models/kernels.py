"""Kernels and precision for training only: a copy of a model with the same maths and weights,
its convs and pools rewritten in forms XLA on a CPU runs faster, or computing in bfloat16. Saved
models stay plain float32 Keras (mnist_zoo.training.trainer hands the weights back)."""

import keras
from keras import layers, ops


class ReshapeMaxPooling2D(layers.MaxPooling2D):
    """2x2 stride-2 'valid' max pooling as a reshape and a max: the same values and gradients
    (ties aside), but XLA on a CPU runs its backward pass about twice as fast."""

    def call(self, inputs):
        _, height, width, channels = inputs.shape
        height, width = height // 2, width // 2
        windows = ops.reshape(inputs[:, : 2 * height, : 2 * width, :], (-1, height, 2, width, 2, channels))
        return ops.max(windows, axis=(2, 4))


class PatchConv2D(layers.Conv2D):
    """A 'valid' stride-1 Conv2D as one matmul over the stacked shifted views of its input
    (im2col): the same sums, but XLA on a CPU runs the small convs of these nets ~2x faster."""

    def call(self, inputs):
        kernel_height, kernel_width = self.kernel_size
        _, height, width, channels = inputs.shape
        out_height, out_width = height - kernel_height + 1, width - kernel_width + 1
        # Stacked in the kernel's (row, column, channel) order, so the kernel reshapes to match.
        patches = ops.concatenate(
            [
                inputs[:, row : row + out_height, column : column + out_width, :]
                for row in range(kernel_height)
                for column in range(kernel_width)
            ],
            axis=-1,
        )
        outputs = ops.matmul(patches, ops.reshape(self.kernel, (-1, self.filters)))
        if self.use_bias:
            outputs = outputs + self.bias
        return self.activation(outputs)


def training_clone(model: keras.Model, cpu_xla_kernels: bool = False, precision: str = "float32") -> keras.Model:
    """A copy of `model` (same weights, same maths) to train in its place.

    With `cpu_xla_kernels` its 'valid' stride-1 convs and 2x2 pools become the forms above (for
    XLA on a CPU); with precision 'mixed_bfloat16' every layer but the softmax output computes in
    bfloat16 (variables stay float32). Train the copy, then `set_weights` on a model from
    `build_model`: saved models stay plain float32 Keras.
    """
    output_layer = model.layers[-1]

    def swap(layer: layers.Layer) -> layers.Layer:
        config = layer.get_config()
        if layer is not output_layer:  # Keras' advice: keep the softmax in float32
            config["dtype"] = precision
        if not cpu_xla_kernels:
            return layer.__class__.from_config(config)
        if (
            type(layer) is layers.Conv2D
            and config["padding"] == "valid"
            and tuple(config["strides"]) == (1, 1)
            and tuple(config["dilation_rate"]) == (1, 1)
            and config["groups"] == 1
            and config["data_format"] == "channels_last"
        ):
            return PatchConv2D.from_config(config)
        if (
            type(layer) is layers.MaxPooling2D
            and tuple(config["pool_size"]) == (2, 2)
            and tuple(config["strides"]) == (2, 2)
            and config["padding"] == "valid"
            and config["data_format"] == "channels_last"
        ):
            return ReshapeMaxPooling2D.from_config(config)
        return layer.__class__.from_config(config)

    copy = keras.models.clone_model(model, clone_function=swap)
    copy.set_weights(model.get_weights())
    return copy
