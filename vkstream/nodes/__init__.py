"""The streaming graph's nodes: thin adapters from models and I/O to messages. Empty in this release."""
