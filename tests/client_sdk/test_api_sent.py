"""Api.call's `sent`: told over a real socket once a request's body is written out, while
the server still holds its answer back (the push loop waits for it before it stores the
batch before)."""

from __future__ import annotations

import http.server
import json
import threading
from concurrent.futures import ThreadPoolExecutor

from client_sdk.api import Api


class HeldAnswers(http.server.BaseHTTPRequestHandler):
    """Reads a request's body, then answers only once `release` is set."""

    release = threading.Event()
    bodies: list[int] = []

    def do_POST(self):
        self.bodies.append(len(self.rfile.read(int(self.headers["Content-Length"]))))
        self.release.wait(timeout=5)
        answer = json.dumps({"results": []}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(answer)))
        self.end_headers()
        self.wfile.write(answer)

    def log_message(self, *args):
        pass


def test_a_push_over_the_network_tells_when_its_body_is_written_out():
    HeldAnswers.release, HeldAnswers.bodies = threading.Event(), []
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), HeldAnswers)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    api = Api(f"http://127.0.0.1:{server.server_address[1]}")
    written = threading.Event()
    wire = [json.dumps({"mutation_id": n, "pad": "x" * 1000}) for n in range(1, 501)]
    try:
        with ThreadPoolExecutor(max_workers=1) as pool:
            answer = pool.submit(api.push_answer, "token", wire, sent=written.set)
            # told while the server still holds the answer back: the body is out
            assert written.wait(timeout=5)
            assert not answer.done()
            HeldAnswers.release.set()
            assert Api.push_results(answer.result(timeout=5)) == []
        assert HeldAnswers.bodies == [len(",".join(wire)) + len('{"protocol":1,"mutations":[]}')]
    finally:
        api.close()
        server.shutdown()
        server.server_close()
