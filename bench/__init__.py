"""The benchmark suite: the kit and its floors, served by one daphne, driven by ``python -m bench.run``."""
