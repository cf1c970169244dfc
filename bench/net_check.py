#!/usr/bin/env python3
"""`glassbox serve` on a network, measured (issue 29): a flood of big requests and a crowd
of stalled ones against the real binary on loopback; figures printed, nothing asserted.

    python3 bench/net_check.py BIN MODEL [--flood 200] [--rows 1024] [--stalled 3000]
                               [--wait 23] [-- SERVE FLAGS…]

1. Flood: FLOOD clients at once, each POSTing ROWS Fashion-MNIST test images as Open
   Inference Protocol JSON (1 024 rows: about 3 MB); the answers by status, the time,
   and the server's peak RSS (VmHWM) after.
2. Stalled: STALLED connections that each send a request head (Content-Length 3 000 000)
   and one byte of the body, then nothing. After WAIT seconds: how many the server has
   closed, and how many file descriptors it holds.

Needs Fashion-MNIST at /usr/share/datasets/fashion-mnist. BIN may be any build of
`glassbox` (an older one without the limits, to compare).
"""
import argparse
import gzip
import json
import os
import re
import resource
import select
import socket
import subprocess
import threading
import time


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("bin")
    parser.add_argument("model")
    parser.add_argument("--flood", type=int, default=200)
    parser.add_argument("--rows", type=int, default=1024)
    parser.add_argument("--stalled", type=int, default=3000)
    parser.add_argument("--wait", type=float, default=23)
    parser.add_argument("serve_flags", nargs="*")
    args = parser.parse_args()
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))

    server = subprocess.Popen(
        [args.bin, "serve", "--model", args.model, "--port", "0", *args.serve_flags],
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    line = server.stdout.readline()
    port = int(re.search(r":(\d+)/", line).group(1))
    name = os.path.basename(args.model).removesuffix(".safetensors")
    path = f"/v2/models/{name}/infer"
    held = []
    try:
        flood(server.pid, port, path, args)
        held = stalled(server.pid, port, path, args)
    finally:
        server.terminate()
        try:
            took = time.time()
            server.wait(timeout=30)
            print(f"SIGTERM: exited {server.returncode} after {time.time() - took:.1f} s")
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()
            print("SIGTERM: still running after 30 s; killed")
        for s in held:
            s.close()


def peak_rss_kib(pid):
    with open(f"/proc/{pid}/status") as f:
        return int(re.search(r"VmHWM:\s+(\d+)", f.read()).group(1))


def flood(pid, port, path, args):
    raw = gzip.open("/usr/share/datasets/fashion-mnist/t10k-images-idx3-ubyte.gz").read()
    rows = [[round(b / 255, 3) for b in raw[16 + 784 * i: 16 + 784 * (i + 1)]] for i in range(args.rows)]
    body = json.dumps({"inputs": [{"name": "input", "shape": [args.rows, 784],
                                   "datatype": "FP32", "data": rows}]}).encode()
    head = (f"POST {path} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n").encode()
    statuses = {}
    lock = threading.Lock()
    barrier = threading.Barrier(args.flood)

    def client():
        status = "reset"
        try:
            s = socket.create_connection(("127.0.0.1", port), timeout=300)
            barrier.wait()
            try:
                s.sendall(head + body)
            except OSError:
                pass
            answer = b""
            while len(answer) < 12:
                chunk = s.recv(65536)
                if not chunk:
                    break
                answer += chunk
            status = answer[9:12].decode() or "closed"
        except OSError as e:
            status = type(e).__name__
        with lock:
            statuses[status] = statuses.get(status, 0) + 1

    before = peak_rss_kib(pid)
    started = time.time()
    threads = [threading.Thread(target=client) for _ in range(args.flood)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    took = time.time() - started
    print(f"flood: {args.flood} × {args.rows} rows ({len(body) / 1e6:.1f} MB each) in {took:.1f} s; "
          f"answers {dict(sorted(statuses.items()))}; peak RSS {before / 1024:.0f} MiB before, "
          f"{peak_rss_kib(pid) / 1024:.0f} MiB after")


def stalled(pid, port, path, args):
    head = (f"POST {path} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            f"Content-Length: 3000000\r\n\r\n{{").encode()
    socks = []
    for _ in range(args.stalled):
        s = socket.socket()
        s.setblocking(True)
        s.settimeout(10)
        try:
            s.connect(("127.0.0.1", port))
            s.sendall(head)
            socks.append(s)
        except OSError:
            s.close()
    opened = len(socks)
    time.sleep(args.wait)
    poller = select.poll()
    for s in socks:
        poller.register(s, select.POLLIN)
    # Readable: an answer (408, followed by the close) or the close itself.
    closed = len(poller.poll(0))
    fds = len(os.listdir(f"/proc/{pid}/fd"))
    print(f"stalled: {opened} connections sent a head and 1 byte; after {args.wait:g} s the server "
          f"had closed {closed} and held {opened - closed}; its open file descriptors: {fds}")
    return socks


if __name__ == "__main__":
    main()
