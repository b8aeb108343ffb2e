"""Pure PyTorch networks and losses: no Ray, no ZeroMQ, no file access. Empty in this release."""
