#!/usr/bin/env bash
# certs/mklab.sh [DIR] — make the throw-away lab PKI that conf/lab.conf uses
# (default DIR: certs/lab beside this script), with the openssl CLI only:
# a lab "public" root and intermediate, ssl1 (CN sip.example.com, with CWA as
# SANs), ssl2 (CN webconf.example.com, with A/V as SAN), an internal CA and
# the internal CWA server's certificate (cwa01.corp.example).  The keys it
# makes are never committed (.gitignore).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
dir=${1:-$here/lab}
exec bash "$here/../tests/pki/mkpki.sh" "$dir"
