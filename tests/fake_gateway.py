"""A fake OpenClaw gateway: FakeOpenClaw (the contract double) behind `POST /tools/invoke`,
with bearer auth and the HTTP deny list, in a process of its own so that it outlives a client
that is killed (crash-resume tests) and is reached over real HTTP (gateway caller tests).

    python3 tests/fake_gateway.py --token T --port-file F [--deny sessions_spawn] [--lane 8]

Like a real OpenClaw 2026.9.6 gateway reached over HTTP, it accepts collector runs
(`collect:true`) but never starts them: they stay queued (FakeOpenClaw collector_runs_start=False;
tests/integration/test_contract.py compares that with the live gateway).

Writes the chosen port to --port-file when ready. `GET /health` -> {"ok": true}.
`GET /debug/runs` -> every run the fake accepted (label, model, status): for assertions only.
"""
from __future__ import annotations

import argparse
import json
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from parallel_agents.fake_openclaw import FakeOpenClaw  # noqa: E402
from parallel_agents.toolcaller import ToolError  # noqa: E402


def make_handler(fake: FakeOpenClaw, token: str, deny: set[str]):
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args):  # quiet
            pass

        def _send(self, code: int, body: dict) -> None:
            data = json.dumps(body).encode()
            self.send_response(code)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_GET(self):
            if self.path == "/health":
                self._send(200, {"ok": True, "status": "live"})
            elif self.path == "/debug/runs":
                self._send(200, {"runs": fake.runs(), "calls": dict(fake.calls)})
            else:
                self._send(404, {"ok": False, "error": {"type": "not_found", "message": "Not Found"}})

        def do_POST(self):
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length)
            if self.path != "/tools/invoke":
                return self._send(404, {"ok": False, "error": {"type": "not_found", "message": "Not Found"}})
            if self.headers.get("Authorization") != f"Bearer {token}":
                return self._send(401, {"ok": False, "error": {"type": "unauthorized",
                                                               "message": "Unauthorized"}})
            try:
                body = json.loads(raw)
            except ValueError:
                return self._send(400, {"ok": False, "error": {"type": "invalid_request",
                                                               "message": "invalid JSON"}})
            tool = body.get("name") or body.get("tool")
            if tool in deny or not fake.has(tool):
                return self._send(404, {"ok": False, "error": {
                    "type": "not_found", "message": f"Tool not available: {tool}"}})
            try:
                details = fake.call(tool, body.get("args") or {})
            except ToolError as exc:
                return self._send(400, {"ok": False, "error": {"type": "tool_error",
                                                               "message": exc.message}})
            self._send(200, {"ok": True, "result": {
                "content": [{"type": "text", "text": json.dumps(details)}], "details": details}})

    return Handler


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--token", required=True)
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--port-file", required=True)
    parser.add_argument("--deny", action="append", default=[])
    parser.add_argument("--lane", type=int, default=8)
    parser.add_argument("--max-children", type=int, default=5)
    parser.add_argument("--models", default="", help="comma-separated allowed model refs")
    args = parser.parse_args()
    models = [m for m in args.models.split(",") if m] or None
    fake = FakeOpenClaw(lane_max_concurrent=args.lane, max_children=args.max_children, models=models,
                        collector_runs_start=False)
    server = ThreadingHTTPServer(("127.0.0.1", args.port), make_handler(fake, args.token, set(args.deny)))
    server.daemon_threads = True
    tmp = Path(args.port_file + ".tmp")
    tmp.write_text(str(server.server_address[1]))
    tmp.replace(args.port_file)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
