"""A local SMTP sink for the alert e-mail tests (tests/alerts.rs), on aiosmtpd.

    python3 scripts/smtp_sink.py PORT OUT

Listens on 127.0.0.1:PORT and appends each message received to OUT as one JSON line:
{"from", "to", "subject", "body"}. Runs until killed.
"""

import email
import json
import sys
import time
from email import policy

from aiosmtpd.controller import Controller


class Sink:
    def __init__(self, out):
        self.out = out

    async def handle_DATA(self, server, session, envelope):
        msg = email.message_from_bytes(envelope.content, policy=policy.default)
        part = msg.get_body(preferencelist=("plain",))
        record = {
            "from": envelope.mail_from,
            "to": envelope.rcpt_tos,
            "subject": str(msg["subject"]),
            "body": part.get_content() if part is not None else "",
        }
        # One write per message, so a reader never sees half a line for long.
        with open(self.out, "a", encoding="utf-8") as f:
            f.write(json.dumps(record) + "\n")
        return "250 OK"


def main():
    port, out = int(sys.argv[1]), sys.argv[2]
    controller = Controller(Sink(out), hostname="127.0.0.1", port=port)
    controller.start()
    try:
        while True:
            time.sleep(3600)
    finally:
        controller.stop()


if __name__ == "__main__":
    main()
