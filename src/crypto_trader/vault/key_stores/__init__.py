"""Where the master key is kept: the OS keyring, an environment variable, or a file."""
