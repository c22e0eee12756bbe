"""Where :func:`evaluate` used to live: a re-export of :mod:`colorlab.metrics.evaluation`.

The lessons and older code import ``from colorlab.evaluation import evaluate, score_table,
verdict, working_size``; new code imports the same names from :mod:`colorlab.metrics`.
"""
from colorlab.metrics.evaluation import evaluate, score_table, verdict, working_size

__all__ = ["evaluate", "score_table", "verdict", "working_size"]
