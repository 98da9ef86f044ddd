"""One module per `pyebpf` subcommand; each exposes `register(subparsers)`."""
