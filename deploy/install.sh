#!/bin/sh
# Installs the gateway as a systemd service. Idempotent: run it again to
# upgrade the binary and the unit; an existing /etc/gateway/gateway.yaml is
# never overwritten. Works from a source tree after `make build` and from an
# unpacked release tarball (same layout: bin/gateway, deploy/...).
#
#   sudo deploy/install.sh              # install, create the user, reload systemd
#   DESTDIR=/tmp/root deploy/install.sh # stage into a directory (packaging)
set -eu

here=$(cd "$(dirname "$0")" && pwd)
root=$(dirname "$here")
BIN=${BIN:-$root/bin/gateway}
DESTDIR=${DESTDIR:-}
PREFIX=/usr/local   # the unit's ExecStart expects /usr/local/bin/gateway

if [ ! -x "$BIN" ]; then
  echo "install.sh: no executable at $BIN; run 'make build' first (or set BIN)" >&2
  exit 1
fi

install -d -m 0755 "$DESTDIR$PREFIX/bin" "$DESTDIR/etc/gateway" "$DESTDIR/etc/systemd/system" \
  "$DESTDIR/etc/sysctl.d" "$DESTDIR/etc/nginx/conf.d" "$DESTDIR$PREFIX/share/doc/gateway"
# Replace the binary atomically, so that a running service is not disturbed
# until it restarts.
install -m 0755 "$BIN" "$DESTDIR$PREFIX/bin/gateway.new"
mv -f "$DESTDIR$PREFIX/bin/gateway.new" "$DESTDIR$PREFIX/bin/gateway"
install -m 0644 "$here/systemd/gateway.service" "$DESTDIR/etc/systemd/system/gateway.service"
install -m 0644 "$here/sysctl/90-gateway.conf" "$DESTDIR/etc/sysctl.d/90-gateway.conf"
install -m 0644 "$here/README.md" "$DESTDIR$PREFIX/share/doc/gateway/README.md"
install -m 0644 "$here/nginx/gateway.conf" "$DESTDIR$PREFIX/share/doc/gateway/nginx-gateway.conf"
if [ ! -e "$DESTDIR/etc/gateway/gateway.yaml" ]; then
  install -m 0644 "$here/gateway.yaml" "$DESTDIR/etc/gateway/gateway.yaml"
else
  echo "install.sh: keeping the existing /etc/gateway/gateway.yaml"
fi
if [ ! -e "$DESTDIR/etc/nginx/conf.d/gateway.conf" ]; then
  install -m 0644 "$here/nginx/gateway.conf" "$DESTDIR/etc/nginx/conf.d/gateway.conf"
fi

if [ -n "$DESTDIR" ]; then
  echo "install.sh: staged into $DESTDIR (no user created, systemd not told)"
  exit 0
fi

# A system user with no login, no home and no shell runs the service.
getent group gateway >/dev/null || groupadd --system gateway
getent passwd gateway >/dev/null || useradd --system --gid gateway --no-create-home \
  --home-dir /nonexistent --shell /usr/sbin/nologin --comment "WebSocket gateway" gateway

if [ -d /run/systemd/system ]; then
  systemctl daemon-reload
  echo "install.sh: installed. Next: edit /etc/gateway/gateway.yaml, then"
  echo "  sudo sysctl --system && sudo systemctl enable --now gateway"
else
  echo "install.sh: installed (systemd is not running here; enable the unit on the target host)"
fi
