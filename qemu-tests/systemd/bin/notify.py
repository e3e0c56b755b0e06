"""sd_notify(3) over NOTIFY_SOCKET, as the examples' notify-demo.py does it."""
import os
import socket


def notify(msg: bytes) -> None:
    path = os.environ["NOTIFY_SOCKET"]
    if path.startswith("@"):
        path = "\0" + path[1:]
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as s:
        s.sendto(msg, path)
