"""A group robot on 127.0.0.1 for the push tests: it records every payload, checks a 钉钉 signature the way
DingTalk does, and answers as told (ok, an errcode, HTTP 500). No test calls an outside address."""

import base64
import hashlib
import hmac
import json
import threading
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class RobotServer:
    def __init__(self, secret: str = ""):
        self.secret = secret
        self.requests: list[dict] = []
        self.answers: list = []  # consumed one per request: "ok", "500", or an errcode (int); then "ok"
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def port(self) -> int:
        return self._server.server_address[1]

    def url(self, path: str = "/cgi-bin/webhook/send?key=test-key-0123456789") -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._server.shutdown()
        self._server.server_close()

    def sign_ok(self, query: dict) -> bool | None:
        """Whether ``timestamp`` and ``sign`` match this server's secret (None when none was sent)."""
        if "sign" not in query:
            return None
        timestamp = query["timestamp"]
        expected = base64.b64encode(
            hmac.new(self.secret.encode(), f"{timestamp}\n{self.secret}".encode(), hashlib.sha256).digest()
        ).decode()
        return hmac.compare_digest(expected, query["sign"])

    def _handler(self):
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                parts = urllib.parse.urlsplit(self.path)
                query = dict(urllib.parse.parse_qsl(parts.query))
                record = {
                    "path": parts.path,
                    "query": query,
                    "json": json.loads(body),
                    "content_type": self.headers.get("Content-Type"),
                }
                record["sign_ok"] = server.sign_ok(query)
                server.requests.append(record)
                answer = server.answers.pop(0) if server.answers else "ok"
                if record["sign_ok"] is False:
                    answer = 310000
                if answer == "500":
                    self._reply(500, b"internal error")
                elif answer == "ok":
                    self._reply(200, b'{"errcode":0,"errmsg":"ok"}')
                else:
                    self._reply(200, json.dumps({"errcode": answer, "errmsg": "sign not match"}).encode())

            def _reply(self, status, body):
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        return Handler


def refused_url() -> str:
    """An address on 127.0.0.1 where nothing listens (connection refused)."""
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"http://127.0.0.1:{port}/robot/send?access_token=gone"
