"""The built-in strategies and the registry that finds a strategy by name or file."""
