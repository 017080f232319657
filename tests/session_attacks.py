"""Host attacks sent as steps of interactive sessions; prints one JSON line of what each step got.

Run by tests/test_sessions.py inside guard_driver.py (a PID and network
namespace of the test's own), so that an escape could still reach nothing.
argv: the path a step must not be able to write, the port a listener waits
on, the name of an environment variable holding a secret.
"""

import json
import sys

from codeloop.sandbox.sessions import SessionError, SessionPool

pwn, port, secret_name = sys.argv[1], int(sys.argv[2]), sys.argv[3]
PYTHON = {
    "fork_without_end": "import os\nwhile True:\n    try:\n        os.fork()\n    except OSError:\n        pass\n",
    "kill_every_process": "import os, signal\nos.kill(-1, signal.SIGKILL)\n'still here'",
    "fill_memory": "kept = []\nwhile True:\n    kept.append(bytearray(1 << 24))\n",
    "write_outside": f"for p in ({pwn!r}, '/tmp/codeloop_pwned_session'):\n    try:\n        open(p, 'w').write('x')\n"
                     "    except OSError as e:\n        print('refused', p)\n",
    "reach_the_network": f"import socket\ns = socket.socket()\ns.settimeout(2)\ntry:\n    s.connect(('127.0.0.1', {port}))\n"
                         "    print('connected')\nexcept OSError as e:\n    print('no network', e.errno)\n",
    "read_the_secret": f"import os\nprint(os.environ.get({secret_name!r}, 'none'))\n",
    "see_other_processes": "import os\nsorted(int(p) for p in os.listdir('/proc') if p.isdigit())",
    "print_without_end": "while True:\n    print('x' * 100)\n",
}
BASH = {
    "fork_without_end": "f() { f | f & }; f",
    "kill_every_process": "kill -9 -1; echo still here",
    "write_outside": f"echo x > {pwn}; echo x > /tmp/codeloop_pwned_session; echo tried",
    "reach_the_network": f"(exec 3<>/dev/tcp/127.0.0.1/{port} && echo connected) 2>&1 || echo no network",
    "read_the_secret": f'echo "${{{secret_name}:-none}}"',
    "background_survivor": "sleep 4242 & echo started",
}

report: dict[str, dict] = {}
with SessionPool(2) as pool:
    for kind, attacks in (("python", PYTHON), ("bash", BASH)):
        for name, code in attacks.items():
            try:
                with pool.open(kind) as session:
                    r = session.step(code, cpu=2.0, wall=4.0)
                    after = session.step("print('alive')" if kind == "python" else "echo alive", cpu=1, wall=3) \
                        if r.alive else None
                report[f"{kind}/{name}"] = {"text": r.text(2000), "limit": r.limit, "alive": r.alive,
                                            "error": (r.error or {}).get("name"),
                                            "after": after.stdout if after is not None else None}
            except SessionError as exc:
                report[f"{kind}/{name}"] = {"session_error": str(exc)}
    # each session sees its own /tmp: a file left by one is not in the next
    with pool.open("bash") as first:
        first.step("echo mine > /tmp/left-behind; echo mine > left.txt")
    with pool.open("bash") as second:
        report["isolation"] = {"text": second.step("ls /tmp /sandbox").text()}
    live_at_end = pool.live()
print(json.dumps({"report": report, "live": live_at_end}))
