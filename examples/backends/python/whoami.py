#!/usr/bin/python3
"""Sample backend behind mod_jpki: Python, as a CGI script or a WSGI app.

mod_jpki exports the logged-in customer as environment variables
(JPKIPassIdentityAs env, the default; docs/variables.md). A CGI script reads
them from os.environ; a WSGI server behind mod_proxy_fcgi / mod_wsgi finds
them in the WSGI environ. Rules that keep this safe:

- Read REMOTE_USER and JPKI_* only. Never an HTTP_* key: those are request
  headers, which the client writes (mod_jpki scrubs X-JPKI-* and
  X-Remote-User, but a header of your own naming would reach you untouched).
- Refuse unless REMOTE_USER is set and equals JPKI_ACCOUNT: otherwise the
  script was reached without mod_jpki in front (a location without AuthType
  JPKI, a mistaken Alias) or another module named the user. Never fall back
  to "anonymous" or to a query parameter.
"""
import os
import sys


def identity(environ):
    """The customer mod_jpki logged in, or None."""
    account = environ.get("REMOTE_USER", "")
    if not account or environ.get("JPKI_ACCOUNT") != account:
        return None
    return {
        "account": account,                                  # JPKI_ACCOUNT too
        "serial": environ.get("JPKI_CERT_SERIAL", ""),       # <issuer key id>:<serial>
        "method": environ.get("JPKI_AUTH_METHOD", ""),       # challenge | tls
        "status": environ.get("JPKI_STATUS", ""),            # good | unchecked ...
    }


def render(who):
    """(status line, body) for the identity, as UTF-8 text."""
    if who is None:
        return "403 Forbidden", "no identity from mod_jpki\n"
    body = "backend: python\n" + "".join(
        "%s: %s\n" % (k, who[k]) for k in ("account", "serial", "method", "status"))
    return "200 OK", body


def application(environ, start_response):
    """WSGI entry point."""
    status, body = render(identity(environ))
    start_response(status, [("Content-Type", "text/plain; charset=utf-8"),
                            ("Cache-Control", "no-store")])
    return [body.encode("utf-8")]


if __name__ == "__main__":                                   # CGI
    status, body = render(identity(os.environ))
    sys.stdout.write("Status: %s\r\nContent-Type: text/plain; charset=utf-8\r\n"
                     "Cache-Control: no-store\r\n\r\n%s" % (status, body))
