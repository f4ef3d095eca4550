"""``python -m jmt`` (and ``torchrun -m jmt train ...``) runs the command line."""
from .cli import app

app()
