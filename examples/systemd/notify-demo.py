"""Minimal sd_notify(3) client for the Type=notify example: READY=1, then pets the watchdog."""
import os
import socket
import time


def notify(msg: bytes) -> None:
    path = os.environ.get("NOTIFY_SOCKET")
    if not path:
        return
    if path.startswith("@"):
        path = "\0" + path[1:]
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as s:
        s.sendto(msg, path)


notify(b"READY=1")
interval = int(os.environ.get("WATCHDOG_USEC", "0")) / 2e6
while True:
    time.sleep(interval or 3600)
    notify(b"WATCHDOG=1")
