"""``make bench`` (one module per phase, run by ``__main__``) and ``make soak``."""
