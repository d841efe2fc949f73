"""What the two-worker tests add to a real daphne worker: a log of every install signal it sends.

The workers are other processes, so a receiver connected in the test cannot count their signals;
this app, installed only in the workers (``tests.example.scaleout_worker.settings``), appends one line per
signal to the file named by ``SIGNAL_LOG``, which the test then reads.
"""
