"""Testing kit: hypothesis strategies for eBPF programs and a pytest plugin (the `kernel` marker)."""
