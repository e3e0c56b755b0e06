"""Pings the watchdog every tenth of WATCHDOG_USEC for 10 s (two periods), then stops."""
import os
import time

from notify import notify

pid = os.getpid()
usec = int(os.environ.get("WATCHDOG_USEC", "0"))
print("watchdog: pid=%d watchdog_pid=%s usec=%d" % (pid, os.environ.get("WATCHDOG_PID", "-"), usec))
notify(b"READY=1")
end = time.monotonic() + 2 * usec / 1e6
while time.monotonic() < end:
    notify(b"WATCHDOG=1")
    time.sleep(usec / 10e6)
print("watchdog: stopped pinging in pid %d" % pid)
while True:
    time.sleep(3600)
