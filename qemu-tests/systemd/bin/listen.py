"""Socket-activated target: reports what it was given on every connection to fd 3."""
import os
import socket

pid = os.getpid()
line = "pid=%d listen_pid=%s listen_fds=%s fd3=%s\n" % (
    pid,
    os.environ.get("LISTEN_PID", "-"),
    os.environ.get("LISTEN_FDS", "-"),
    os.readlink("/proc/self/fd/3"),
)
print("listen: " + line, end="")
s = socket.socket(fileno=3)
while True:
    c, _ = s.accept()
    c.sendall(line.encode())
    c.close()
