"""The MNIST model zoo's library: params and their schema, data, models, training, evaluation,
export, inference, cards and plots. The DVC stages in stages/ and the command-line tools call it.

Importing it changes nothing: an entry point calls `mnist_zoo.runtime.start` first.
"""
