#!/usr/bin/env bash
# Fabric's first-network as local processes on 127.0.0.1, with byfn's steps.
#
#   network.sh up      generate crypto and channel artifacts, start the orderer and four peers, create
#                      mychannel, join every peer, update both orgs' anchor peers, define chaincode basic;
#                      returns when done
#   network.sh demo    up, print each peer's height, and keep running until Ctrl-C, which stops everything
#   network.sh down    stop every process and remove the network's state
#   network.sh status  print each node's health and each peer's channel info
#
# Environment: WEFT_STATE (state folder, default deploy/local/state), WEFT_BIN (binaries, default
# target/debug), CHANNEL_NAME (default mychannel). With OTEL_EXPORTER_OTLP_ENDPOINT (e.g. http://127.0.0.1:4317)
# every node and CLI call exports its spans there.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
STATE=${WEFT_STATE:-$HERE/state}
BIN=${WEFT_BIN:-$ROOT/target/debug}
CHANNEL=${CHANNEL_NAME:-mychannel}
CRYPTO=$STATE/crypto-config
ORDERER_OPS=127.0.0.1:9443

# shellcheck source=../common.sh
source "$HERE/../common.sh"

# start NAME COMMAND... : runs a node in the background, its own session, logging to logs/NAME.log.
start() {
  local name=$1; shift
  setsid "$@" > "$STATE/logs/$name.log" 2>&1 < /dev/null &
  echo $! > "$STATE/pids/$name.pid"
}

# wait_healthy NAME OPS_ADDRESS : polls /healthz until it answers 200, for at most 30 s.
wait_healthy() {
  local deadline=$((SECONDS + 30))
  until CORE_OPERATIONS_LISTENADDRESS=$2 "$BIN/peer" node status > /dev/null 2>&1; do
    if [ $SECONDS -ge $deadline ] || ! kill -0 "$(cat "$STATE/pids/$1.pid")" 2>/dev/null; then
      echo "$1 did not become healthy; last lines of $STATE/logs/$1.log:" >&2
      tail -20 "$STATE/logs/$1.log" >&2
      exit 1
    fi
    sleep 0.2
  done
  echo "$1 is up (operations $2)"
}

start_orderer() {
  local dir=$CRYPTO/ordererOrganizations/example.com/orderers/orderer.example.com
  start orderer.example.com env FABRIC_CFG_PATH="$HERE/config" \
    ORDERER_GENERAL_LISTENADDRESS=127.0.0.1 ORDERER_GENERAL_LISTENPORT=7050 \
    ORDERER_GENERAL_LOCALMSPID=OrdererMSP ORDERER_GENERAL_LOCALMSPDIR="$dir/msp" \
    ORDERER_GENERAL_TLS_PRIVATEKEY="$dir/tls/server.key" ORDERER_GENERAL_TLS_CERTIFICATE="$dir/tls/server.crt" \
    ORDERER_GENERAL_TLS_ROOTCAS="[$dir/tls/ca.crt]" ORDERER_GENERAL_BOOTSTRAPFILE="$ARTIFACTS/genesis.block" \
    ORDERER_FILELEDGER_LOCATION="$STATE/orderer.example.com" ORDERER_OPERATIONS_LISTENADDRESS=$ORDERER_OPS \
    OTEL_SERVICE_NAME=orderer.example.com \
    "$BIN/orderer"
  wait_healthy orderer.example.com $ORDERER_OPS
}

start_peer() {
  local peer=$1 org=$2 port=$3 ops=$4 boot=$5
  local name=$peer.org$org.example.com
  local dir=$CRYPTO/peerOrganizations/org$org.example.com/peers/$name
  start "$name" env FABRIC_CFG_PATH="$HERE/config" \
    CORE_PEER_ID="$name" CORE_PEER_LISTENADDRESS=127.0.0.1:$port CORE_PEER_ADDRESS=127.0.0.1:$port \
    CORE_PEER_GOSSIP_BOOTSTRAP=127.0.0.1:$boot CORE_PEER_GOSSIP_EXTERNALENDPOINT=127.0.0.1:$port \
    CORE_PEER_LOCALMSPID="Org${org}MSP" CORE_PEER_MSPCONFIGPATH="$dir/msp" \
    CORE_PEER_TLS_CERT_FILE="$dir/tls/server.crt" CORE_PEER_TLS_KEY_FILE="$dir/tls/server.key" \
    CORE_PEER_TLS_ROOTCERT_FILE="$dir/tls/ca.crt" CORE_PEER_FILESYSTEMPATH="$STATE/$name" \
    CORE_OPERATIONS_LISTENADDRESS=127.0.0.1:$ops \
    "$BIN/peer" node start
  wait_healthy "$name" "127.0.0.1:$ops"
}

status() {
  for p in "${PEERS[@]}"; do
    read -r peer org _ <<< "$p"
    printf '%-24s ' "$peer.org$org.example.com"
    as "$org" "$peer" peer channel getinfo -c "$CHANNEL" 2>&1 | tail -1
  done
}

up() {
  need_bins "$BIN"
  if [ -d "$STATE/pids" ] && ls "$STATE/pids"/*.pid > /dev/null 2>&1; then
    echo "a network is already running from $STATE; run '$0 down' first" >&2
    exit 1
  fi
  mkdir -p "$STATE/logs" "$STATE/pids"
  generate "$BIN" "$STATE" "$CHANNEL" $ORDERER_ADDRESS 127.0.0.1:7051 127.0.0.1:9051 2s
  log "Starting orderer.example.com"
  start_orderer
  for p in "${PEERS[@]}"; do
    read -r peer org port ops boot <<< "$p"
    log "Starting $peer.org$org.example.com"
    start_peer "$peer" "$org" "$port" "$ops" "$boot"
  done
  byfn
  log "Network ready. Channel info per peer:"
  status
  cat <<MSG

Operations endpoints: orderer http://$ORDERER_OPS, peers http://127.0.0.1:9444 .. 9447
  (GET /healthz, /version, /metrics; peers also /channels). Logs: $STATE/logs/
Use the CLI as a peer's admin:  source deploy/local/env.sh org1 peer0 && peer channel getinfo -c $CHANNEL
Invoke and query basic:
  peer chaincode invoke -C $CHANNEL -n basic --peerAddresses 127.0.0.1:7051 --peerAddresses 127.0.0.1:9051 \\
    -c '{"Args":["CreateAsset","a1","blue","5","Tom","100"]}' --waitForEvent
  peer chaincode query -C $CHANNEL -n basic -c '{"Args":["ReadAsset","a1"]}'
MSG
}

down() {
  if [ -d "$STATE/pids" ]; then
    for f in "$STATE/pids"/*.pid; do
      [ -e "$f" ] || continue
      kill "$(cat "$f")" 2>/dev/null || true
    done
    for f in "$STATE/pids"/*.pid; do
      [ -e "$f" ] || continue
      local pid; pid=$(cat "$f")
      for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
      kill -9 "$pid" 2>/dev/null || true
    done
  fi
  rm -rf "$STATE"
  echo "network stopped and its state removed"
}

case "${1:-}" in
  up) up ;;
  down) down ;;
  status) status ;;
  demo)
    up
    trap 'echo; down; exit 0' INT TERM
    echo; echo "Press Ctrl-C to stop the network."
    while true; do sleep 1; done
    ;;
  *) echo "usage: $0 up|demo|down|status" >&2; exit 2 ;;
esac
