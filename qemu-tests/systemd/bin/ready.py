"""Type=notify target that sends READY=1 only once /run/dmzkit-tests/go exists."""
import os
import time

from notify import notify

pid = os.getpid()
print("ready: waiting in pid %d" % pid)
while not os.path.exists("/run/dmzkit-tests/go"):
    time.sleep(0.1)
notify(b"READY=1")
print("ready: sent READY=1 from pid %d" % pid)
while True:
    time.sleep(3600)
