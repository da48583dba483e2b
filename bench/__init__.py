"""Benchmarks: `python -m bench.transport` and `python -m bench.text` (`make bench` runs both).

Each starts the gateway (gRPC server + Envoy) in its own process with
`bench.serve_stack`, drives it from this process, prints plain-text tables and
compares every path with a baseline measured in the same run. They assert
nothing: they print figures beside the target each figure is compared with.
"""
