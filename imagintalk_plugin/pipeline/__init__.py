"""Wires the stages, owns batching, devices and cancellation."""
