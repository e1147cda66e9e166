#!/usr/bin/env python3
"""idp.py — a small OAuth 2.0 identity provider for popfetch's tests, and the
"user" who signs in at it. Python standard library only.

  idp.py serve --port-file F --cert PEM --key KEY [--log F] [--user alice]
               [--client ID[:SECRET]]...
      HTTPS on 127.0.0.1 (port picked by the kernel, written to F):
        GET  /authorize   authorization code + PKCE S256 (RFC 6749 4.1, RFC 7636):
                          redirects at once to the loopback redirect_uri with
                          code and state (the user consents by GETting it)
        POST /token       grant_type authorization_code (PKCE checked),
                          refresh_token (rotated when asked), device_code
                          (RFC 8628: authorization_pending, slow_down), and
                          client_credentials (the client's secret checked)
        POST /device      device authorization (RFC 8628 3.1)
        GET  /device      the user enters the code: ?user_code=X[&deny=1]
        POST /introspect  RFC 7662, for Dovecot's oauth2 passdb:
                          {"active": true, "username": USER} for a live token
        POST /control     test knobs, a JSON object (see Knobs)
        GET  /stats       counts of what was asked, as JSON
      A client registered with a secret must send it (client_secret_post).

  idp.py ctl --port-file F --ca PEM JSON       POST JSON to /control
  idp.py stats --port-file F --ca PEM [KEY]     GET /stats (one value with KEY)
  idp.py browse URL --ca PEM [--state VALUE] [--no-follow]
      the user in a browser: GET the authorization URL (HTTPS, the test
      CA), then follow its redirect to popfetch's loopback listener (with
      --state, the state in the redirect is replaced first: a forged
      answer); prints the loopback's HTTP status and body.

Knobs (POST /control): access_lifetime (seconds, default 3600),
rotate (bool: a refresh issues a new refresh token and revokes the old),
expire_access (true: every access token issued so far is expired now),
revoke_refresh (true: every refresh token is revoked), slow_down (the next
N device polls answer slow_down), pending (the next N device polls answer
authorization_pending even when approved), token_delay (seconds the token
endpoint waits before it answers), interval (device poll interval, default
1), deny (the authorize endpoint answers error=access_denied),
redirect_token (POST /token answers 302 to this URL), garbage_token (the
token endpoint answers this raw body with HTTP 200), chunked (answers are
sent with Transfer-Encoding: chunked, in small chunks), pad (bytes of
padding added to every JSON answer, in a member "pad").
"""
import argparse
import base64
import hashlib
import json
import os
import secrets
import ssl
import sys
import threading
import time
import urllib.parse
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

LOCK = threading.Lock()
S = {
    "codes": {},      # code -> {client_id, redirect_uri, challenge, user}
    "access": {},     # token -> {user, expires}
    "refresh": {},    # token -> {user, client_id, active}
    "devices": {},    # device_code -> {user_code, client_id, state, expires}
    "knobs": {"access_lifetime": 3600, "rotate": False, "slow_down": 0, "pending": 0,
              "token_delay": 0, "interval": 1, "deny": False, "redirect_token": "",
              "garbage_token": "", "chunked": False, "pad": 0},
    "stats": {},
    "clients": {},    # client_id -> secret or None
    "user": "alice",
}


def count(key, n=1):
    S["stats"][key] = S["stats"].get(key, 0) + n


def b64url_sha256(s):
    return base64.urlsafe_b64encode(hashlib.sha256(s.encode()).digest()).rstrip(b"=").decode()


def issue(user, client_id, with_refresh=True):
    at = "AT." + secrets.token_urlsafe(24)
    S["access"][at] = {"user": user, "expires": time.time() + S["knobs"]["access_lifetime"]}
    out = {"access_token": at, "token_type": "Bearer",
           "expires_in": S["knobs"]["access_lifetime"], "scope": "pop"}
    if with_refresh:
        rt = "RT/" + secrets.token_urlsafe(24)
        S["refresh"][rt] = {"user": user, "client_id": client_id, "active": True}
        out["refresh_token"] = rt
    return out


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, fmt, *args):
        if self.server.logf:
            self.server.logf.write("%s %s\n" % (self.command, fmt % args))
            self.server.logf.flush()

    def send(self, status, obj=None, raw=None, headers=(), ctype="application/json"):
        if obj is not None and S["knobs"]["pad"]:
            obj = dict(obj, pad="x" * S["knobs"]["pad"])
        body = raw if raw is not None else json.dumps(obj).encode()
        self.send_response(status)
        for k, v in headers:
            self.send_header(k, v)
        self.send_header("Content-Type", ctype)
        if S["knobs"]["chunked"]:
            self.send_header("Transfer-Encoding", "chunked")
        else:
            self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-store")
        self.end_headers()
        if not S["knobs"]["chunked"]:
            self.wfile.write(body)
            return
        for i in range(0, len(body), 7):  # small chunks, each with an extension
            piece = body[i:i + 7]
            self.wfile.write(b"%x;n=%d\r\n%s\r\n" % (len(piece), i, piece))
        self.wfile.write(b"0\r\nX-Trailer: done\r\n\r\n")

    def form(self):
        n = int(self.headers.get("Content-Length") or 0)
        data = self.rfile.read(n).decode()
        if self.server.logf:
            self.server.logf.write("BODY %s %s\n" % (self.path, data))
        return {k: v[0] for k, v in urllib.parse.parse_qs(data, keep_blank_values=True).items()}

    def client_ok(self, f):
        cid = f.get("client_id", "")
        if cid not in S["clients"]:
            return False
        want = S["clients"][cid]
        return want is None or f.get("client_secret") == want

    def error(self, status, err, desc=""):
        obj = {"error": err}
        if desc:
            obj["error_description"] = desc
        self.send(status, obj)

    # ---- GET ------------------------------------------------------------------
    def do_GET(self):
        url = urllib.parse.urlsplit(self.path)
        q = {k: v[0] for k, v in urllib.parse.parse_qs(url.query).items()}
        with LOCK:
            if url.path == "/authorize":
                return self.authorize(q)
            if url.path == "/device":
                return self.device_user(q)
            if url.path == "/stats":
                return self.send(200, S["stats"])
        self.send(404, {"error": "not_found"})

    def authorize(self, q):
        count("authorize")
        redirect = q.get("redirect_uri", "")
        parts = urllib.parse.urlsplit(redirect)
        if (q.get("client_id") not in S["clients"] or q.get("response_type") != "code"
                or parts.scheme != "http" or parts.hostname != "127.0.0.1" or not parts.port
                or parts.path != "/" or q.get("code_challenge_method") != "S256"
                or len(q.get("code_challenge", "")) != 43):
            return self.send(400, {"error": "invalid_request"})
        ans = {"state": q.get("state", "")}
        if S["knobs"]["deny"]:
            ans.update(error="access_denied", error_description="The user said <no>")
        else:
            code = "C." + secrets.token_urlsafe(16)
            S["codes"][code] = {"client_id": q["client_id"], "redirect_uri": redirect,
                                "challenge": q["code_challenge"], "user": S["user"]}
            ans["code"] = code
        loc = redirect + "?" + urllib.parse.urlencode(ans)
        self.send(302, raw=b"", headers=[("Location", loc)], ctype="text/plain")

    def device_user(self, q):
        code = q.get("user_code", "")
        for d in S["devices"].values():
            if d["user_code"] == code:
                d["state"] = "denied" if q.get("deny") else "approved"
                return self.send(200, raw=b"ok\n", ctype="text/plain")
        self.send(404, raw=b"no such code\n", ctype="text/plain")

    # ---- POST -----------------------------------------------------------------
    def do_POST(self):
        path = urllib.parse.urlsplit(self.path).path
        if path == "/control":
            n = int(self.headers.get("Content-Length") or 0)
            knobs = json.loads(self.rfile.read(n) or b"{}")
            with LOCK:
                self.control(knobs)
            return self.send(200, {"ok": True})
        f = self.form()
        if path == "/token":
            delay = S["knobs"]["token_delay"]
            if delay:
                time.sleep(delay)
            with LOCK:
                return self.token(f)
        with LOCK:
            if path == "/device":
                return self.device_start(f)
            if path == "/introspect":
                return self.introspect(f)
        self.send(404, {"error": "not_found"})

    def control(self, k):
        for key in ("access_lifetime", "rotate", "slow_down", "pending", "token_delay",
                    "interval", "deny", "redirect_token", "garbage_token", "chunked", "pad"):
            if key in k:
                S["knobs"][key] = k[key]
        if k.get("expire_access"):
            for a in S["access"].values():
                a["expires"] = 0
        if k.get("revoke_refresh"):
            for r in S["refresh"].values():
                r["active"] = False

    def token(self, f):
        gt = f.get("grant_type", "")
        count("token")
        count("token:" + gt.rsplit(":", 1)[-1])
        if S["knobs"]["redirect_token"]:
            return self.send(302, raw=b"", headers=[("Location", S["knobs"]["redirect_token"])],
                             ctype="text/plain")
        if S["knobs"]["garbage_token"]:
            return self.send(200, raw=S["knobs"]["garbage_token"].encode())
        if not self.client_ok(f):
            return self.error(401, "invalid_client", "unknown client or wrong secret")
        if gt == "authorization_code":
            c = S["codes"].pop(f.get("code", ""), None)
            if (not c or c["client_id"] != f.get("client_id")
                    or c["redirect_uri"] != f.get("redirect_uri")):
                return self.error(400, "invalid_grant", "unknown or used code")
            if b64url_sha256(f.get("code_verifier", "")) != c["challenge"]:
                return self.error(400, "invalid_grant", "PKCE verification failed")
            return self.send(200, issue(c["user"], c["client_id"]))
        if gt == "refresh_token":
            r = S["refresh"].get(f.get("refresh_token", ""))
            if not r or not r["active"] or r["client_id"] != f.get("client_id"):
                count("refused")
                return self.error(400, "invalid_grant",
                                  "AADSTS70008: The refresh token has expired or was revoked")
            out = issue(r["user"], r["client_id"], with_refresh=S["knobs"]["rotate"])
            if S["knobs"]["rotate"]:
                r["active"] = False
            return self.send(200, out)
        if gt == "urn:ietf:params:oauth:grant-type:device_code":
            d = S["devices"].get(f.get("device_code", ""))
            if not d:
                return self.error(400, "invalid_grant", "unknown device code")
            if S["knobs"]["slow_down"] > 0:
                S["knobs"]["slow_down"] -= 1
                count("slow_down")
                return self.error(400, "slow_down")
            if d["state"] == "pending" or S["knobs"]["pending"] > 0:
                if S["knobs"]["pending"] > 0:
                    S["knobs"]["pending"] -= 1
                count("pending")
                return self.error(400, "authorization_pending")
            if d["state"] == "denied":
                return self.error(400, "access_denied")
            del S["devices"][f["device_code"]]
            return self.send(200, issue(S["user"], f["client_id"]))
        if gt == "client_credentials":
            if S["clients"].get(f.get("client_id")) is None:
                return self.error(400, "unauthorized_client", "a public client")
            return self.send(200, issue(S["user"], f["client_id"], with_refresh=False))
        self.error(400, "unsupported_grant_type")

    def device_start(self, f):
        count("device")
        if not self.client_ok(f):
            return self.error(401, "invalid_client")
        dc = "D." + secrets.token_urlsafe(16)
        uc = "%04d-%04d" % (secrets.randbelow(10000), secrets.randbelow(10000))
        S["devices"][dc] = {"user_code": uc, "client_id": f["client_id"], "state": "pending"}
        host = "https://127.0.0.1:%d" % self.server.server_address[1]
        self.send(200, {"device_code": dc, "user_code": uc,
                        "verification_uri": host + "/device", "expires_in": 600,
                        "interval": S["knobs"]["interval"]})

    def introspect(self, f):
        count("introspect")
        a = S["access"].get(f.get("token", ""))
        if a and a["expires"] > time.time():
            return self.send(200, {"active": True, "username": a["user"]})
        count("introspect_inactive")
        self.send(200, {"active": False})


def serve(args):
    for c in args.client:
        cid, _, secret = c.partition(":")
        S["clients"][cid] = secret or None
    S["user"] = args.user
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(args.cert, args.key)
    httpd.socket = ctx.wrap_socket(httpd.socket, server_side=True)
    httpd.logf = open(args.log, "a") if args.log else None
    tmp = args.port_file + ".tmp"
    with open(tmp, "w") as f:
        f.write(str(httpd.server_address[1]))
    os.rename(tmp, args.port_file)
    httpd.serve_forever()


def context(ca):
    return ssl.create_default_context(cafile=ca)


def base(args):
    with open(args.port_file) as f:
        return "https://127.0.0.1:%s" % f.read().strip()


def ctl(args):
    req = urllib.request.Request(base(args) + "/control", data=args.json.encode(), method="POST",
                                 headers={"Content-Type": "application/json"})
    urllib.request.urlopen(req, context=context(args.ca), timeout=10).read()


def stats(args):
    data = json.loads(urllib.request.urlopen(base(args) + "/stats", context=context(args.ca),
                                             timeout=10).read())
    print(data.get(args.key, 0) if args.key else json.dumps(data, sort_keys=True))


class NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *a, **k):
        return None


def browse(args):
    opener = urllib.request.build_opener(NoRedirect, urllib.request.HTTPSHandler(
        context=context(args.ca)))
    try:
        resp = opener.open(args.url, timeout=10)
        print("no redirect: %d" % resp.status)
        return 1
    except urllib.error.HTTPError as e:
        if e.code != 302:
            print("authorize answered %d: %s" % (e.code, e.read().decode(errors="replace")))
            return 1
        loc = e.headers["Location"]
    if args.state is not None:
        parts = urllib.parse.urlsplit(loc)
        q = urllib.parse.parse_qs(parts.query)
        q["state"] = [args.state]
        loc = urllib.parse.urlunsplit(parts._replace(query=urllib.parse.urlencode(q, doseq=True)))
    if args.no_follow:
        print(loc)
        return 0
    try:
        resp = urllib.request.urlopen(loc, timeout=10)
        status, body = resp.status, resp.read()
    except urllib.error.HTTPError as e:
        status, body = e.code, e.read()
    print(status)
    print(body.decode(errors="replace"))
    return 0


def main():
    ap = argparse.ArgumentParser()
    sub = ap.add_subparsers(dest="cmd", required=True)
    s = sub.add_parser("serve")
    s.add_argument("--port-file", required=True)
    s.add_argument("--cert", required=True)
    s.add_argument("--key", required=True)
    s.add_argument("--log")
    s.add_argument("--user", default="alice")
    s.add_argument("--client", action="append", default=[])
    c = sub.add_parser("ctl")
    c.add_argument("--port-file", required=True)
    c.add_argument("--ca", required=True)
    c.add_argument("json")
    t = sub.add_parser("stats")
    t.add_argument("--port-file", required=True)
    t.add_argument("--ca", required=True)
    t.add_argument("key", nargs="?")
    b = sub.add_parser("browse")
    b.add_argument("url")
    b.add_argument("--ca", required=True)
    b.add_argument("--state")
    b.add_argument("--no-follow", action="store_true")
    args = ap.parse_args()
    if args.cmd == "serve":
        serve(args)
        return 0
    return {"ctl": ctl, "stats": stats, "browse": browse}[args.cmd](args) or 0


if __name__ == "__main__":
    sys.exit(main())
