#!/usr/bin/env python3
"""The bare QMP baseline of make bench: the migration mig-recv and mig-send
drive (--copy-storage-all over UNIX sockets), as nothing but the QMP
commands they send, in their order (lib/migrate/recv.c, lib/migrate/send.c),
to both QEMUs, from one process.  Left out: what is not QMP (the NBD probe of
the destination's exports, checks of socket files) and the progress polls
(query-block-jobs, query-migrate every 250 ms): the script waits for QEMU's
events instead.  No rollback: on any error it says so and exits 1.

  bench-qmp.py --src-qmp PATH --dst-qmp PATH --migrate-sock PATH
               --nbd-sock PATH [--summary FILE] [--wait-go]

--wait-go: once loaded, print "loaded" on stdout and wait for a line on
stdin before the first command, so that the interpreter's start-up is not
timed.  --summary: write {"event":"summary",...} as mig-send --json does.
"""
import argparse
import json
import socket
import sys
import threading
import time

CMD_SECS = 30       # one command, as SEND_CMD_MS / RECV_CMD_MS
RUN_SECS = 300      # the whole migration
INT64_MAX = 2**63 - 1


class Fail(Exception):
    pass


class QMP:
    def __init__(self, path, name):
        self.name = name
        self.buf = b""
        self.events = []
        self.next_id = 1
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(10)
        try:
            self.sock.connect(path)
        except OSError as e:
            raise Fail("%s: cannot connect to %s: %s" % (name, path, e))
        greeting = self.read(time.monotonic() + 10)
        if "QMP" not in greeting:
            raise Fail("%s: no QMP greeting" % name)
        self.cmd("qmp_capabilities")

    def read(self, deadline):
        while True:
            while b"\n" not in self.buf:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise Fail("%s: timed out" % self.name)
                self.sock.settimeout(left)
                try:
                    data = self.sock.recv(65536)
                except socket.timeout:
                    raise Fail("%s: timed out" % self.name)
                except ConnectionResetError:
                    data = b""
                if not data:
                    raise EOFError(self.name)
                self.buf += data
            line, self.buf = self.buf.split(b"\n", 1)
            if line.strip():
                return json.loads(line)

    def cmd(self, name, args=None):
        deadline = time.monotonic() + CMD_SECS
        cid = self.next_id
        self.next_id += 1
        msg = {"execute": name, "id": cid}
        if args is not None:
            msg["arguments"] = args
        self.sock.sendall(json.dumps(msg).encode() + b"\n")
        while True:
            try:
                m = self.read(deadline)
            except EOFError:
                raise Fail("%s: QEMU closed the connection during %s"
                           % (self.name, name))
            if "event" in m:
                self.events.append(m)
            elif m.get("id") == cid:
                if "error" in m:
                    raise Fail("%s: %s: %s" % (self.name, name,
                                               m["error"].get("desc")))
                return m.get("return")

    def event(self, deadline):
        if self.events:
            return self.events.pop(0)
        while True:
            m = self.read(deadline)
            if "event" in m:
                return m

    def close(self):
        self.sock.close()


def disks(q):
    """Every writable disk with a medium, by id, as lib/migrate/disks.c."""
    out = []
    for dev in q.cmd("query-block"):
        did = dev.get("device") or ""
        if not did:
            qdev = dev.get("qdev", "")
            prefix = "/machine/peripheral/"
            if not qdev.startswith(prefix):
                continue
            did = qdev[len(prefix):].split("/")[0]
        ins = dev.get("inserted")
        if ins is None or ins.get("ro"):
            continue
        out.append((did, ins["node-name"]))
    return out


def caps(pairs):
    return {"capabilities": [{"capability": c, "state": s} for c, s in pairs]}


class Dest:
    """mig-recv --qmp ... --incoming unix:... --nbd unix:..."""

    def __init__(self, a):
        self.a = a
        self.err = None
        self.done = threading.Event()

    def setup(self):
        q = self.q = QMP(self.a.dst_qmp, "destination")
        q.cmd("query-status")
        q.cmd("query-migrate")
        exports = disks(q)
        q.cmd("migrate-set-capabilities", caps([
            ("events", True), ("late-block-activate", True),
            ("postcopy-ram", False), ("multifd", False)]))
        q.cmd("stop")
        q.cmd("nbd-server-start", {"addr": {
            "type": "unix", "data": {"path": self.a.nbd_sock}}})
        for did, node in exports:
            q.cmd("block-export-add", {"type": "nbd", "id": did,
                  "node-name": node, "name": did, "writable": True})
        q.cmd("migrate-incoming", {"uri": "unix:" + self.a.migrate_sock})

    def wait(self):
        try:
            q = self.q
            deadline = time.monotonic() + RUN_SECS
            while True:
                try:
                    ev = q.event(deadline)
                except EOFError:
                    raise Fail("destination: QEMU exited")
                if ev["event"] != "MIGRATION":
                    continue
                st = ev["data"]["status"]
                if st == "completed":
                    break
                if st in ("failed", "cancelled"):
                    raise Fail("destination: the incoming migration " + st)
            q.cmd("nbd-server-stop")
            q.cmd("cont")
            q.cmd("query-status")
            q.close()
        except Exception as e:  # reported by the main thread
            self.err = e
        finally:
            self.done.set()


def source(a):
    """mig-send --qmp ... --migrate-uri unix:... --copy-storage-all
    --disks-uri unix:...; returns the summary."""
    t0 = time.monotonic()
    q = QMP(a.src_qmp, "source")
    q.cmd("query-status")
    q.cmd("query-migrate")
    chosen = disks(q)
    q.cmd("migrate-set-capabilities", caps([
        ("events", True), ("pause-before-switchover", True),
        ("return-path", True), ("postcopy-ram", False), ("multifd", False),
        ("auto-converge", False), ("xbzrle", False)]))
    params = {"max-bandwidth": INT64_MAX}
    if a.downtime:
        params["downtime-limit"] = a.downtime
    q.cmd("migrate-set-parameters", params)
    jobs = {}
    for i, (did, node) in enumerate(chosen):
        q.cmd("blockdev-add", {"driver": "nbd", "node-name": "mig-nbd-%d" % i,
              "server": {"type": "unix", "path": a.nbd_sock}, "export": did})
        q.cmd("blockdev-mirror", {"job-id": "mig-mirror-%d" % i,
              "device": node, "target": "mig-nbd-%d" % i, "sync": "full",
              "copy-mode": "background"})
        jobs["mig-mirror-%d" % i] = {"ready": False, "done": False, "len": 0}
    deadline = time.monotonic() + RUN_SECS

    def next_event():
        try:
            ev = q.event(deadline)
        except EOFError:
            raise Fail("source: QEMU exited")
        name = ev["event"]
        data = ev.get("data", {})
        j = jobs.get(data.get("device"))
        if name.startswith("BLOCK_JOB_") and j is not None:
            if name == "BLOCK_JOB_READY":
                j["ready"] = True
            elif name in ("BLOCK_JOB_COMPLETED", "BLOCK_JOB_CANCELLED"):
                j["done"] = True
                j["len"] = data.get("offset", 0)
                if "error" in data or not j["ready"]:
                    raise Fail("source: mirror %s failed: %s"
                               % (data["device"], data.get("error")))
        return name, data

    while not all(j["ready"] for j in jobs.values()):
        next_event()
    q.cmd("migrate", {"uri": "unix:" + a.migrate_sock})
    while True:
        name, data = next_event()
        if name != "MIGRATION":
            continue
        st = data["status"]
        if st == "completed":
            break
        if st in ("failed", "cancelled"):
            raise Fail("source: the migration " + st)
        if st == "pre-switchover":
            for job in jobs:
                q.cmd("block-job-cancel", {"device": job})
            while not all(j["done"] for j in jobs.values()):
                next_event()
            for i in range(len(jobs)):
                q.cmd("blockdev-del", {"node-name": "mig-nbd-%d" % i})
            q.cmd("migrate-continue", {"state": "pre-switchover"})
    info = q.cmd("query-migrate")
    summary = {"event": "summary", "result": "completed",
               "total_ms": int((time.monotonic() - t0) * 1000),
               "downtime_ms": info.get("downtime", 0),
               "memory_bytes": info.get("ram", {}).get("transferred", 0),
               "disks": [{"id": did, "bytes": jobs["mig-mirror-%d" % i]["len"]}
                         for i, (did, _) in enumerate(chosen)]}
    q.cmd("quit")
    try:
        while True:
            q.read(time.monotonic() + 10)
    except EOFError:
        pass
    q.close()
    return summary


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--src-qmp", required=True)
    p.add_argument("--dst-qmp", required=True)
    p.add_argument("--migrate-sock", required=True)
    p.add_argument("--nbd-sock", required=True)
    p.add_argument("--summary")
    p.add_argument("--wait-go", action="store_true")
    p.add_argument("--downtime", type=int, help="downtime-limit, ms")
    a = p.parse_args()
    if a.wait_go:
        print("loaded", flush=True)
        if not sys.stdin.readline():
            return 1
    try:
        dst = Dest(a)
        dst.setup()
        t = threading.Thread(target=dst.wait, daemon=True)
        t.start()
        summary = source(a)
        if not dst.done.wait(RUN_SECS):
            raise Fail("destination: no end of the migration")
        if dst.err is not None:
            raise dst.err
    except Fail as e:
        print("bench-qmp: %s" % e, file=sys.stderr)
        return 1
    if a.summary:
        with open(a.summary, "w") as f:
            f.write(json.dumps(summary, separators=(",", ":")) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
