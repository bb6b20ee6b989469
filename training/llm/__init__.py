"""Training: the llm part (see cli.py for the steps)."""
