"""Repository-wide pytest set-up: lessons run in quick mode (tiny data and steps, same code
path)."""
import os

os.environ.setdefault("COLORLAB_QUICK", "1")
os.environ.setdefault("MPLBACKEND", "Agg")
