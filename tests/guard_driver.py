"""Runs `codeloop eval` with traps set, from inside a PID + network namespace guard.

    unshare --pid --fork --mount-proc --net python guard_driver.py SPEC.json

SPEC names the samples file, the results file, the loopback port to listen on
and the secret to put in the environment. The driver brings up loopback,
listens on the port, runs the evaluation with the secret in its environment,
then prints one JSON line: the exit code, whether the listener was reached,
how many processes outlived the evaluation, and whether the secret appeared
in anything the evaluation printed.
"""

import json
import os
import socket
import subprocess
import sys
import threading
import time

spec = json.load(open(sys.argv[1]))
subprocess.run(["ip", "link", "set", "lo", "up"], check=False)
hits = []


def listen() -> None:
    srv = socket.socket()
    srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    srv.bind(("127.0.0.1", spec["port"]))
    srv.listen(8)
    while True:
        conn, _ = srv.accept()
        hits.append(1)
        conn.close()


threading.Thread(target=listen, daemon=True).start()
time.sleep(0.1)
env = dict(os.environ, **{spec["secret_name"]: spec["secret"]})
proc = subprocess.run(spec["command"], env=env, capture_output=True, text=True, timeout=600)
time.sleep(0.3)
me = os.getpid()
left = [p for p in os.listdir("/proc") if p.isdigit() and int(p) not in (1, me)]
print(json.dumps({
    "rc": proc.returncode,
    "listener_hit": bool(hits),
    "processes_left": len(left),
    "secret_printed": spec["secret"] in proc.stdout + proc.stderr,
    "stderr": proc.stderr[-2000:],
    "stdout": proc.stdout[-50000:],
}))
