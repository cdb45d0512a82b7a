"""A local HTTP server (127.0.0.1, a thread) for download tests; never the internet."""

import contextlib
import http.server
import threading


class _Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self):  # noqa: N802 (http.server API)
        self.server.requests.append(self.path)
        body = self.server.files.get(self.path)
        if body is None:
            self.send_error(404)
            return
        truncate = self.server.truncate.get(self.path)
        self.send_response(200)
        self.send_header("Content-Type", "application/octet-stream")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        # A truncated transfer: the full length is announced, part of it is sent.
        self.wfile.write(body if truncate is None else body[:truncate])
        self.wfile.flush()
        if truncate is not None:
            self.close_connection = True

    def log_message(self, *args):
        pass


@contextlib.contextmanager
def serve(files, truncate=None):
    """Serves `files` ({"/path": bytes}) on 127.0.0.1; yields (base URL, request log).

    `truncate` maps a path to the number of bytes actually sent while the
    Content-Length header announces the whole file.
    """
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    server.files, server.truncate, server.requests = files, truncate or {}, []
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", server.requests
    finally:
        server.shutdown()
        server.server_close()
        thread.join()
