"""A webhook receiver for the tests: verifies every delivery with the official
`standardwebhooks` package (PyPI), answers 204 to a good one and 401 to a bad one, and
appends one JSON line per delivery to OUT: {"ok", "id", "type", "attempt_at", "body"}.

    python3 scripts/webhook_receiver.py PORT SECRET OUT [FAIL_FIRST]

FAIL_FIRST: answer 500 to the first N deliveries of each event id (to exercise retries).
"""
import json
import sys
import threading
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from standardwebhooks.webhooks import Webhook, WebhookVerificationError

port, secret, out = int(sys.argv[1]), sys.argv[2], sys.argv[3]
fail_first = int(sys.argv[4]) if len(sys.argv) > 4 else 0
verifier = Webhook(secret)
lock = threading.Lock()
seen = Counter()


class Handler(BaseHTTPRequestHandler):
    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("content-length", 0)))
        headers = {k.lower(): v for k, v in self.headers.items()}
        try:
            verifier.verify(body, headers)
            ok = True
        except WebhookVerificationError:
            ok = False
        event_id = headers.get("webhook-id", "")
        with lock:
            seen[event_id] += 1
            failing = ok and seen[event_id] <= fail_first
            with open(out, "a") as f:
                parsed = json.loads(body) if ok else None
                f.write(json.dumps({"ok": ok, "id": event_id, "failed_on_purpose": failing,
                                    "type": parsed and parsed["type"],
                                    "attempt_at": headers.get("webhook-timestamp"),
                                    "body": parsed}) + "\n")
        self.send_response(500 if failing else 204 if ok else 401)
        self.end_headers()

    def log_message(self, *args):
        pass


ThreadingHTTPServer.request_queue_size = 128
ThreadingHTTPServer(("127.0.0.1", port), Handler).serve_forever()
