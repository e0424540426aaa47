"""The vault: the master key, its stores, and API keys encrypted at rest."""
