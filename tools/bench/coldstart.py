#!/usr/bin/env python3
"""Init time of every function against a minimal Lambda Runtime API emulator.

For each function's release binary (host build) and, in the same run, the hello-world
`hello-lambda` built the same way: exec, then time to its first `GET .../invocation/next` and to
its first answered invocation (`POST .../response` or `.../error`). Runs alternate between
binaries so drift in the machine affects all alike. The AWS and Zoom endpoints point at a
tripwire listener: any connection opened before the first `/next` is a network call on the
init path, and is reported.

Usage: tools/bench/coldstart.py [--bin-dir target/release] [--runs 20]
Build first: cargo build --release -p hello-lambda $(printf -- '-p zoom-%s ' health auth ...)
"""

import argparse
import base64
import json
import os
import socket
import statistics
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

# A first invocation each function answers without any network call: HTTP events without a
# caller (401), an unsigned webhook (401), SQS messages that are not events or jobs.
def http_event(function, sample):
    event = json.loads((ROOT / "events" / function / sample).read_text())
    event.get("requestContext", {}).pop("authorizer", None)
    event.get("headers", {}).pop("authorization", None)
    return event


def sqs_event(body):
    return {"Records": [{"messageId": "m1", "receiptHandle": "r", "body": body, "attributes": {},
                         "messageAttributes": {}, "md5OfBody": "", "eventSource": "aws:sqs",
                         "eventSourceARN": "arn:aws:sqs:us-east-1:123456789012:q", "awsRegion": "us-east-1"}]}


FUNCTIONS = {
    "hello-lambda": lambda: {"hello": "world"},
    "zoom-health": lambda: http_event("zoom-health", "config.json"),
    "zoom-auth": lambda: http_event("zoom-auth", "connection-status.json"),
    "zoom-meetings": lambda: http_event("zoom-meetings", "list.json"),
    "zoom-users": lambda: http_event("zoom-users", "list.json"),
    "zoom-recordings": lambda: http_event("zoom-recordings", "list.json"),
    "zoom-analytics": lambda: http_event("zoom-analytics", "meetings.json"),
    "zoom-webhooks": lambda: http_event("zoom-webhooks", "meeting-started.json"),
    "zoom-analytics-processor": lambda: sqs_event("not an event"),
    "zoom-recording-archiver": lambda: sqs_event("not a job"),
}


class Tripwire:
    """Counts TCP connections to a port nobody should call during init."""

    def __init__(self):
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(64)
        self.port = self.sock.getsockname()[1]
        self.count = 0
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        while True:
            conn, _ = self.sock.accept()
            self.count += 1
            conn.close()


def measure(binary, event, tripwire):
    """One cold start: (ms to first /next, ms to first answer, connections before /next)."""
    marks = {}
    done = threading.Event()
    payload = json.dumps(event).encode()

    class RuntimeApi(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args):
            pass

        def do_GET(self):
            if "next" not in marks:
                marks["next"] = time.perf_counter_ns()
                marks["trip"] = tripwire.count
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Lambda-Runtime-Aws-Request-Id", "req-1")
                self.send_header("Lambda-Runtime-Deadline-Ms", str(int(time.time() * 1000) + 10_000))
                self.send_header("Lambda-Runtime-Invoked-Function-Arn", "arn:aws:lambda:us-east-1:123456789012:function:f")
                self.send_header("Lambda-Runtime-Trace-Id", "Root=1-00000000-000000000000000000000000")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)
            else:
                done.wait(5)  # the second /next: hold it until the process is stopped

        def do_POST(self):
            length = int(self.headers.get("Content-Length") or 0)
            self.rfile.read(length)
            marks.setdefault("answer", time.perf_counter_ns())
            marks.setdefault("kind", "error" if self.path.endswith("/error") else "response")
            self.send_response(202)
            self.send_header("Content-Length", "0")
            self.end_headers()
            done.set()

    class Server(ThreadingHTTPServer):
        def handle_error(self, request, client_address):
            pass  # the held second /next is reset when the process is stopped

    server = Server(("127.0.0.1", 0), RuntimeApi)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    trip = f"http://127.0.0.1:{tripwire.port}"
    env = {
        "PATH": os.environ.get("PATH", ""),
        "AWS_LAMBDA_RUNTIME_API": f"127.0.0.1:{server.server_address[1]}",
        "AWS_LAMBDA_FUNCTION_NAME": binary.name, "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "256",
        "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST", "AWS_LAMBDA_LOG_FORMAT": "JSON",
        "AWS_REGION": "us-east-1", "AWS_ACCESS_KEY_ID": "test", "AWS_SECRET_ACCESS_KEY": "test",
        "AWS_ENDPOINT_URL": trip, "ZOOM_API_BASE_URL": f"{trip}/v2", "ZOOM_OAUTH_BASE_URL": trip,
        "ZOOM_TABLE_NAME": "table", "ZOOM_EVENTS_QUEUE_URL": f"{trip}/123456789012/events",
        "ZOOM_ARCHIVE_QUEUE_URL": f"{trip}/123456789012/archive", "ZOOM_RECORDINGS_BUCKET": "bucket",
        "ZOOM_TOKEN_KEYS": "k1:" + base64.b64encode(bytes(32)).decode(),
        "ZOOM_CLIENT_ID": "id", "ZOOM_CLIENT_SECRET": "secret", "ZOOM_WEBHOOK_SECRET_TOKEN": "whsecret",
        "API_JWT_SECRET": "jwtsecret", "ZOOM_REDIRECT_URI": "http://localhost:9000/api/auth/zoom/callback",
        "ZOOM_APP_RETURN_URL": "http://localhost:3000/",
    }
    start = time.perf_counter_ns()
    process = subprocess.Popen([str(binary)], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    finished = done.wait(30)
    process.kill()
    process.wait()
    server.shutdown()
    server.server_close()
    if not finished or "next" not in marks:
        raise RuntimeError(f"{binary.name} did not answer its first invocation")
    return ((marks["next"] - start) / 1e6, (marks["answer"] - start) / 1e6, marks["trip"], marks["kind"])


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--bin-dir", default=str(ROOT / "target" / "release"))
    parser.add_argument("--runs", type=int, default=20)
    args = parser.parse_args()
    bins = {name: Path(args.bin_dir) / name for name in FUNCTIONS}
    missing = [name for name, path in bins.items() if not path.exists()]
    if missing:
        sys.exit(f"coldstart: not built: {', '.join(missing)} (see the usage line)")
    tripwire = Tripwire()
    results = {name: [] for name in FUNCTIONS}
    for run in range(args.runs + 1):
        for name, path in bins.items():
            sample = measure(path, FUNCTIONS[name](), tripwire)
            if run > 0:  # the first round warms the page cache
                results[name].append(sample)
    base_next = statistics.median(r[0] for r in results["hello-lambda"])
    base_answer = statistics.median(r[1] for r in results["hello-lambda"])
    print(f"| binary | exec → first /next, median (ms) | exec → first answer, median (ms) | p90 answer (ms) | vs hello (next / answer) | connections before /next | size (MiB) |")
    print("|---|---|---|---|---|---|---|")
    worst = 0.0
    for name, samples in results.items():
        nxt = statistics.median(s[0] for s in samples)
        answer = statistics.median(s[1] for s in samples)
        p90 = sorted(s[1] for s in samples)[int(0.9 * (len(samples) - 1))]
        trips = max(s[2] for s in samples)
        ratio = (nxt / base_next, answer / base_answer)
        if name != "hello-lambda":
            worst = max(worst, *ratio)
        size = bins[name].stat().st_size / (1024 * 1024)
        print(f"| {name} | {nxt:.2f} | {answer:.2f} | {p90:.2f} | {ratio[0]:.2f}x / {ratio[1]:.2f}x | {trips} | {size:.1f} |")
    print(f"\nworst ratio to hello-world: {worst:.2f}x (target ≤ 1.5x); runs per binary: {args.runs}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
