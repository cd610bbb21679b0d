"""Releases of the analytics stack: the versioned bundle, the gate and its signed decision."""
