"""The one door to the exchanges: every request passes through here."""
