"""Filesystem implementations of the core's byte stores."""
