#!/usr/bin/env python3
"""baresip_ctl.py: drive one call of a running baresip through its ctrl_tcp
module (netstring-framed JSON on TCP) and report what happened.

  baresip_ctl.py HOST PORT DIAL_URI CALL_SECONDS TIMEOUT_S

1. connects (retrying while baresip starts);
2. waits until the user agent is registered: a REGISTER_OK event, or the
   `reginfo` command's answer shows the account "OK" (polled, because the
   registration may finish before this script connects); a REGISTER_FAIL
   event ends the run at once (registered=no);
3. dials DIAL_URI and waits for CALL_ESTABLISHED;
4. keeps the call up CALL_SECONDS (a CALL_CLOSED meanwhile is a failure);
5. hangs up and waits for CALL_CLOSED.

Every event and response is printed as one line ("event TYPE ..." or
"response ..."), then a last line "result registered=... established=...
closed=...".  Exit 0 only if every step happened, 1 otherwise; the whole
run is bounded by TIMEOUT_S.
"""
import json
import re
import socket
import sys
import time


class Ctl:
    def __init__(self, host, port, deadline):
        self.deadline = deadline
        self.buf = b""
        self.sock = None
        while time.monotonic() < deadline:
            try:
                self.sock = socket.create_connection((host, port), timeout=1)
                break
            except OSError:
                time.sleep(0.1)
        if self.sock is None:
            raise SystemExit("result connect=no (ctrl_tcp %s:%d)" % (host, port))
        self.token = 0

    def send(self, command, params=""):
        self.token += 1
        msg = json.dumps({"command": command, "params": params,
                          "token": str(self.token)}).encode()
        self.sock.sendall(b"%d:%s," % (len(msg), msg))
        return str(self.token)

    def _parse(self):
        m = re.match(rb"(\d+):", self.buf)
        if not m:
            if len(self.buf) > 20:
                raise SystemExit("result protocol=bad (%r)" % self.buf[:40])
            return None
        n = int(m.group(1))
        start = m.end()
        if len(self.buf) < start + n + 1:
            return None
        body = self.buf[start:start + n]
        self.buf = self.buf[start + n + 1:]
        return json.loads(body.decode("utf-8", "replace"))

    def recv(self, until):
        """The next message, or None when `until` (monotonic) passes."""
        while True:
            msg = self._parse()
            if msg is not None:
                if msg.get("event"):
                    print("event %s %s" % (msg.get("type"), json.dumps(msg)), flush=True)
                else:
                    print("response %s" % json.dumps(msg), flush=True)
                return msg
            left = min(until, self.deadline) - time.monotonic()
            if left <= 0:
                return None
            self.sock.settimeout(left)
            try:
                data = self.sock.recv(65536)
            except socket.timeout:
                return None
            if not data:
                raise SystemExit("result connection=closed")
            self.buf += data


def main():
    if len(sys.argv) != 6:
        sys.stderr.write(__doc__)
        return 2
    host, port, uri = sys.argv[1], int(sys.argv[2]), sys.argv[3]
    call_s, timeout = float(sys.argv[4]), float(sys.argv[5])
    deadline = time.monotonic() + timeout
    ctl = Ctl(host, port, deadline)
    res = {"registered": False, "established": False, "closed": False}

    def report():
        print("result " + " ".join("%s=%s" % (k, "yes" if v else "no")
                                   for k, v in res.items()), flush=True)
        return 0 if all(res.values()) else 1

    # 2. registration
    ansi = re.compile(r"\x1b\[[0-9;]*m")
    while not res["registered"] and time.monotonic() < deadline:
        tok = ctl.send("reginfo")
        poll_end = time.monotonic() + 0.3
        while True:
            msg = ctl.recv(poll_end)
            if msg is None:
                break
            if msg.get("event") and msg.get("type") == "REGISTER_OK":
                res["registered"] = True
            if msg.get("event") and msg.get("type") == "REGISTER_FAIL":
                print("registration failed", flush=True)
                return report()
            if msg.get("response") and msg.get("token") == tok:
                data = ansi.sub("", str(msg.get("data", "")))
                if re.search(r"\bOK\b", data):
                    res["registered"] = True

    if not res["registered"]:
        return report()

    # 3. the call
    ctl.send("dial", uri)
    while not res["established"]:
        msg = ctl.recv(deadline)
        if msg is None:
            return report()
        if msg.get("event") and msg.get("type") == "CALL_CLOSED":
            return report()
        if msg.get("event") and msg.get("type") == "CALL_ESTABLISHED":
            res["established"] = True

    # 4. talk
    talk_end = time.monotonic() + call_s
    while time.monotonic() < talk_end:
        msg = ctl.recv(talk_end)
        if msg is not None and msg.get("event") and msg.get("type") == "CALL_CLOSED":
            print("the call closed early", flush=True)
            res["established"] = False
            return report()

    # 5. hang up
    ctl.send("hangup")
    while not res["closed"]:
        msg = ctl.recv(deadline)
        if msg is None:
            break
        if msg.get("event") and msg.get("type") == "CALL_CLOSED":
            res["closed"] = True
    return report()


if __name__ == "__main__":
    sys.exit(main())
