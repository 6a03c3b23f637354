"""One module per `netmon` subcommand; each exposes ``register(subparsers)``."""
