"""`python -m crypto_trader` runs the command line."""

from crypto_trader.cli.main import run

run()
