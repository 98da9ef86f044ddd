"""Kernel UAPI facts: instruction encoding, program/map/attach types, helpers, context layouts, map specs.

The lowest layer: it imports nothing from the rest of pyebpf except `pyebpf.errors`.
"""
