"""Waits for SIGTERM and says which pid got it."""
import os
import signal
import sys
import time


def on_term(signum, frame):
    print("term: SIGTERM received by pid %d" % os.getpid())
    sys.exit(0)


signal.signal(signal.SIGTERM, on_term)
print("term: running as pid %d" % os.getpid())
while True:
    time.sleep(3600)
