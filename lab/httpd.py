#!/usr/bin/python3
"""Tiny dual-stack HTTP server for the lab: every GET answers with the site's name.

Run inside a site's namespace by ecnlab:
    httpd.py --name "site a" [--port 80] [--big BYTES] [--slow] [--ready FILE]
The page body and the X-Site header name the site, so a client can tell which
anycast instance answered. /big (--big BYTES, default 65536) is a page that
long, to fill segments. --slow makes a busy server: a listen backlog of 1 and
one accept per 100 ms. --ready is written once the socket listens.
"""
import argparse
import socket
import socketserver
import sys
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class Handler(BaseHTTPRequestHandler):
    # A connection whose data went to another site never sends a request;
    # give up on it instead of keeping a thread forever.
    timeout = 10

    def _answer(self, with_body):
        body = (self.server.site_name + "\n").encode()
        if self.path.split("?")[0] == "/big":
            line = (self.server.site_name + " ").encode()
            body = (line * (self.server.big // len(line) + 1))[:self.server.big]
        self.send_response(200)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(body)))
        self.send_header("X-Site", self.server.site_name)
        self.end_headers()
        if with_body:
            self.wfile.write(body)

    def do_GET(self):
        self._answer(True)

    def do_HEAD(self):
        self._answer(False)

    def log_message(self, fmt, *args):
        sys.stderr.write("%s %s\n" % (self.client_address[0], fmt % args))


class Server(ThreadingHTTPServer):
    address_family = socket.AF_INET6
    daemon_threads = True
    # The default backlog of 5 overflows under traceroute -T, and an
    # overflowing listener falls back to SYN cookies (see ecnlab).
    request_queue_size = 1024
    accept_gap = 0.0
    big = 65536

    def get_request(self):
        # --slow: at most one accepted connection per accept_gap seconds.
        req = super().get_request()
        if self.accept_gap:
            time.sleep(self.accept_gap)
        return req

    def server_bind(self):
        # One socket for IPv4 and IPv6. Skip HTTPServer.server_bind: it calls
        # getfqdn(), which can wait for a DNS server the namespace cannot reach.
        self.socket.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
        socketserver.TCPServer.server_bind(self)
        self.server_name = self.site_name
        self.server_port = self.server_address[1]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--name", required=True)
    ap.add_argument("--port", type=int, default=80)
    ap.add_argument("--ready")
    ap.add_argument("--big", type=int, default=65536)
    ap.add_argument("--slow", action="store_true")
    args = ap.parse_args()
    Server.site_name = args.name
    Server.big = max(1, args.big)
    if args.slow:
        Server.request_queue_size = 1
        Server.accept_gap = 0.1
    srv = Server(("::", args.port), Handler)
    if args.ready:
        with open(args.ready, "w") as f:
            f.write("listening\n")
    srv.serve_forever()


if __name__ == "__main__":
    main()
