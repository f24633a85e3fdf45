#!/usr/bin/env python3
"""What is checked is what is served (the validated model, validate.c):
the fingerprint each listener serves is the one `check --format json`
reported; a certificate file replaced after the start changes nothing until
a reload; the reload validates the new file before serving it (a bad one is
refused and the old certificate keeps serving).  Addresses 127.0.10.x."""
import hashlib
import json
import os
import shutil
import signal
import socket
import ssl
import subprocess
import time

from harness import PKI, Harness, EDGE443, wait_port

H = Harness("model")


def copy(src, dst):
    """Replace DST's content the way an operator would (a new file
    renamed over the old one)."""
    tmp = H.path(dst + ".new")
    shutil.copyfile(os.path.join(PKI, src), tmp)
    os.chmod(tmp, 0o600)
    os.replace(tmp, H.path(dst))


copy("ssl1.crt", "pub.crt")
copy("ssl1.key", "pub.key")
H.backend("127.0.10.20:7000", "echo")
conf = H.write("model.conf", """
trust_file = "pki/trust.pem"
handshake_timeout = 3
workers = 2
certificate pub {
  cert  = "pub.crt"
  chain = "pki/chain.pem"
  key   = "pub.key"
}
certificate other {
  cert  = "pki/ssl2.crt"
  chain = "pki/chain.pem"
  key   = "pki/ssl2.key"
}
backend b { servers = {"127.0.10.20:7000"} }
service cwa {
  fqdn = "cwa.example.com"
  listen = "127.0.10.1:443"
  certificate = "pub"
  mode = "terminate"
  backend = "b"
}
service web {
  fqdn = "webconf.example.com"
  listen = "127.0.10.2:443"
  certificate = "other"
  mode = "terminate"
  backend = "b"
}
""")


def check_json():
    r = subprocess.run([EDGE443, "check", "-c", conf, "--format", "json"],
                       cwd=H.tmp, capture_output=True, text=True, timeout=60)
    try:
        return r.returncode, json.loads(r.stdout)
    except ValueError:
        return r.returncode, None


def reported(doc, name):
    for c in (doc or {}).get("certificates", []):
        if c.get("name") == name:
            return c.get("fingerprint_sha256")
    return None


def served(ip, sni):
    """SHA-256 of the leaf the listener presents, as edge443 writes it."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    with socket.create_connection((ip, 443), 5) as s:
        with ctx.wrap_socket(s, server_hostname=sni) as t:
            der = t.getpeercert(binary_form=True)
    d = hashlib.sha256(der).hexdigest().upper()
    return ":".join(d[i:i + 2] for i in range(0, len(d), 2))


def wait_served(ip, sni, want, seconds=10):
    end = time.time() + seconds
    got = None
    while time.time() < end:
        got = served(ip, sni)
        if got == want:
            return got
        time.sleep(0.2)
    return got


rc, doc = check_json()
H.check(rc == 0 and doc is not None, "check passes the layout", rc)
fp_pub, fp_other = reported(doc, "pub"), reported(doc, "other")
H.check(fp_pub and fp_other and fp_pub != fp_other,
        "check reports a fingerprint per certificate", (fp_pub, fp_other))
p = H.edge(conf, wait_for=["127.0.10.1:443", "127.0.10.2:443"])
H.check(served("127.0.10.1", "cwa.example.com") == fp_pub,
        "listener 127.0.10.1 serves the fingerprint check reported")
H.check(served("127.0.10.2", "webconf.example.com") == fp_other,
        "listener 127.0.10.2 serves the fingerprint check reported")
H.check(served("127.0.10.1", None) == fp_pub,
        "without SNI too, the listener serves what check reported")

# A valid replacement on disk: nothing changes until a reload.
copy("all.crt", "pub.crt")
copy("all.key", "pub.key")
rc, doc2 = check_json()
fp_all = reported(doc2, "pub")
H.check(rc == 0 and fp_all and fp_all != fp_pub,
        "check sees the replacement (another fingerprint)", (rc, fp_all))
time.sleep(0.5)
H.check(served("127.0.10.1", "cwa.example.com") == fp_pub,
        "a certificate replaced on disk is not served before a reload")

# A bad replacement (expired) and a reload: validated first, refused, the
# old certificate keeps serving.
copy("expired.crt", "pub.crt")
copy("expired.key", "pub.key")
p.send_signal(signal.SIGHUP)
end = time.time() + 10
while time.time() < end and "keeps serving" not in H.log():
    time.sleep(0.1)
log = H.log()
H.check("keeps serving" in log and "expired" in log,
        "a reload validates the new file and refuses an expired one",
        log[-2000:])
H.check(served("127.0.10.1", "cwa.example.com") == fp_pub,
        "after the refused reload the checked certificate still serves")

# A good replacement and a reload: the new one serves, and it is the one
# that check reports for the same files.
copy("all.crt", "pub.crt")
copy("all.key", "pub.key")
p.send_signal(signal.SIGHUP)
got = wait_served("127.0.10.1", "cwa.example.com", fp_all)
H.check(got == fp_all, "after a good reload the new certificate serves",
        (got, fp_all))
H.check(served("127.0.10.2", "webconf.example.com") == fp_other,
        "the other listener serves what it served")

# Settings a reload cannot apply are named, not silently kept.
with open(conf) as f:
    text = f.read()
with open(conf, "w") as f:
    f.write(text.replace("workers = 2", "workers = 1"))
p.send_signal(signal.SIGHUP)
end = time.time() + 10
while time.time() < end and "needs a restart" not in H.log():
    time.sleep(0.1)
H.check("workers = 1 needs a restart; 2 workers keep serving" in H.log(),
        "a reload that changes workers says it needs a restart",
        H.log()[-1500:])
H.check(served("127.0.10.1", "cwa.example.com") == fp_all,
        "and the rest of that reload applies")
H.check(H.stop(p) == 0, "SIGTERM exit 0")
H.check("ERROR: AddressSanitizer" not in H.log(), "no sanitizer report")
H.done()
