"""The `crypto-trader` command line."""
