"""Training: the voice part (see cli.py for the steps)."""
