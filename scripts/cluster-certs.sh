#!/bin/sh
# Makes a cluster CA and one certificate per node, for tests and `make cluster-demo`
# (docs/cluster.md says how to do this for production: keep ca.key off the nodes).
#   scripts/cluster-certs.sh DIR NODE...
# writes DIR/ca.pem, DIR/ca.key and DIR/NODE.pem, DIR/NODE.key for each NODE. Idempotent:
# files that exist are kept.
set -eu
dir=$1
shift
mkdir -p "$dir"
umask 077
if [ ! -f "$dir/ca.pem" ]; then
  openssl req -x509 -newkey rsa:2048 -nodes -days 30 -subj "/CN=streamgate-cluster-ca" \
    -keyout "$dir/ca.key" -out "$dir/ca.pem" 2>/dev/null
fi
for node in "$@"; do
  [ -f "$dir/$node.pem" ] && continue
  openssl req -newkey rsa:2048 -nodes -subj "/CN=$node" \
    -keyout "$dir/$node.key" -out "$dir/$node.csr" 2>/dev/null
  openssl x509 -req -in "$dir/$node.csr" -CA "$dir/ca.pem" -CAkey "$dir/ca.key" \
    -CAcreateserial -days 30 -out "$dir/$node.pem" 2>/dev/null
  rm -f "$dir/$node.csr"
done
