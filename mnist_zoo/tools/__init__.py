"""The command-line tools: predict, the gate, the pull-request comment."""
