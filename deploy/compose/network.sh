#!/usr/bin/env bash
# Fabric's first-network in docker compose, like byfn.sh:
#
#   network.sh images         build the weft/orderer and weft/peer images (FROM scratch) from static binaries
#   network.sh up             generate crypto and channel artifacts, start the orderer and four peers, create
#                             mychannel, join every peer, update both orgs' anchor peers, define chaincode basic
#   network.sh createChannel  only the channel steps, on a running network
#   network.sh walkthrough    the gossip walk-through: start the nodes one by one, create and join the channel,
#                             update the anchors, invoke and query, printing membership, leaders and heights
#                             from the operations endpoints after each step
#   network.sh status         health, height, leader and membership of every node
#   network.sh down           remove the containers, the network, the volumes and the generated state
#
# The CLI runs on the host against the published ports (127.0.0.1:7050, 7051, 8051, 9051, 10051), as in
# test-network; operations endpoints are on 127.0.0.1:9443 (orderer) and 9444-9447 (peers).
# Environment: WEFT_BIN (static binaries, default target/x86_64-unknown-linux-gnu/release), CHANNEL_NAME
# (default mychannel), COMPOSE_PROFILES=jaeger to start Jaeger too (its image must be available) and export every
# node's spans to it (WEFT_TRACES_ENDPOINT, default http://jaeger:4317).
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
STATE=$HERE/state
BIN=${WEFT_BIN:-$ROOT/target/x86_64-unknown-linux-gnu/release}
CHANNEL=${CHANNEL_NAME:-mychannel}
PROJECT=weft

# shellcheck source=../common.sh
source "$HERE/../common.sh"

# Compose v2 (`docker compose`) when present, else v1 (`docker-compose`).
if docker compose version > /dev/null 2>&1; then
  COMPOSE=(docker compose)
else
  COMPOSE=(docker-compose)
fi
compose() { "${COMPOSE[@]}" -p $PROJECT -f "$HERE/docker-compose.yaml" "$@"; }

# With Jaeger, the nodes export their spans to it, and so does the host's CLI (the root of each invoke's trace).
if [[ ${COMPOSE_PROFILES:-} == *jaeger* ]]; then
  export WEFT_TRACES_ENDPOINT=${WEFT_TRACES_ENDPOINT:-http://jaeger:4317}
  export OTEL_EXPORTER_OTLP_ENDPOINT=${OTEL_EXPORTER_OTLP_ENDPOINT:-http://127.0.0.1:4317}
fi

images() {
  need_bins "$BIN"
  local ctx=$ROOT/target/images
  for image in orderer peer; do
    log "Building weft/$image from $BIN/$image"
    rm -rf "${ctx:?}/$image" && mkdir -p "$ctx/$image"
    local config=orderer.yaml
    [ "$image" = peer ] && config=core.yaml
    cp "$HERE/config/$config" "$ctx/$image/"
    # Symbols and line tables only weigh the image down (69 MB to ~15 MB for the peer).
    strip -o "$ctx/$image/$image" "$BIN/$image"
    local tag=weft/$image:${WEFT_IMAGE_TAG:-latest} old
    old=$(docker image inspect -f '{{.Id}}' "$tag" 2> /dev/null || true)
    docker build -q -t "$tag" -f "$HERE/$image.Dockerfile" "$ctx/$image"
    # The previous build of the tag would stay behind as a dangling image; a running container keeps it.
    [ -n "$old" ] && [ "$old" != "$(docker image inspect -f '{{.Id}}' "$tag")" ] && docker rmi "$old" > /dev/null 2>&1
    true
  done
}

need_images() {
  for image in orderer peer; do
    docker image inspect "weft/$image:${WEFT_IMAGE_TAG:-latest}" > /dev/null 2>&1 ||
      { echo "image weft/$image is missing: run 'make images' first" >&2; exit 1; }
  done
}

generate_once() {
  [ -f "$ARTIFACTS/genesis.block" ] && return
  generate "$BIN" "$STATE" "$CHANNEL" orderer.example.com:7050 peer0.org1.example.com:7051 \
    peer0.org2.example.com:9051 2s
}

# ops PORT PATH : GET from a node's published operations endpoint (empty on error).
ops() { curl -fsS --max-time 5 "http://127.0.0.1:$1$2" 2> /dev/null || true; }

# wait_healthy NAME OPS_PORT : waits (at most 60 s) for /healthz to answer 200 on the published port.
wait_healthy() {
  local deadline=$((SECONDS + 60))
  until curl -fsS --max-time 2 "http://127.0.0.1:$2/healthz" > /dev/null 2>&1; do
    if [ $SECONDS -ge $deadline ]; then
      echo "$1 did not become healthy; its last log lines:" >&2
      docker logs --tail 30 "$1" >&2 || true
      exit 1
    fi
    sleep 0.5
  done
  echo "$1 is up (operations 127.0.0.1:$2)"
}

start_orderer() {
  log "Starting orderer.example.com"
  compose up -d orderer.example.com
  wait_healthy orderer.example.com 9443
}

# start_peer ORG PEER
start_peer() {
  local name=$2.org$1.example.com
  log "Starting $name"
  compose up -d --no-deps "$name"
  wait_healthy "$name" "$(ops_port "$1" "$2")"
}

# ops_port ORG PEER
ops_port() {
  local ports; ports=$(peer_ports "$2.org$1.example.com")
  echo "${ports#* }"
}

# show_peer ORG PEER : what one peer's operations endpoint says about membership, leadership and height.
show_peer() {
  local name=$2.org$1.example.com port; port=$(ops_port "$1" "$2")
  local members channel
  members=$(ops "$port" /gossip/membership | jq -r '[.alive[].endpoint] | sort | join(", ")' 2> /dev/null)
  channel=$(ops "$port" "/channels/$CHANNEL" | jq -r '"height \(.height), leader \(.leader)"' 2> /dev/null)
  printf '  %-24s %-26s knows: %s\n' "$name" "${channel:-not in $CHANNEL}" "${members:-nobody}"
}

show_all() {
  for p in "${PEERS[@]}"; do
    read -r peer org _ <<< "$p"
    docker inspect -f '{{.State.Running}}' "$peer.org$org.example.com" 2> /dev/null | grep -q true &&
      show_peer "$org" "$peer"
  done
  return 0
}

up() {
  need_bins "$BIN"
  need_images
  generate_once
  log "Starting the network (compose project $PROJECT, network weft_test)"
  compose up -d
  wait_healthy orderer.example.com 9443
  for p in "${PEERS[@]}"; do
    read -r peer org _ ops _ <<< "$p"
    wait_healthy "$peer.org$org.example.com" "$ops"
  done
  byfn
  log "Network ready"
  show_all
  cat << MSG

Operations endpoints: orderer http://127.0.0.1:9443, peers http://127.0.0.1:9444 .. 9447
  (GET /healthz, /version, /metrics, /logspec; peers also /channels, /channels/$CHANNEL, /gossip/membership).
Logs: docker logs -f peer0.org1.example.com
Use the CLI on the host as a peer's admin:  source deploy/compose/env.sh org1 peer0
  peer chaincode invoke -o \$ORDERER_ADDRESS --tls --cafile \$ORDERER_CA -C $CHANNEL -n basic \\
    --peerAddresses 127.0.0.1:7051 --peerAddresses 127.0.0.1:9051 \\
    -c '{"Args":["CreateAsset","a1","blue","5","Tom","100"]}' --waitForEvent
  peer chaincode query -C $CHANNEL -n basic -c '{"Args":["ReadAsset","a1"]}'
MSG
}

# The steps of the classic gossip walk-through (seed 003: "Hyperledger Fabric gossip, step by step").
walkthrough() {
  need_bins "$BIN"
  need_images
  if [ -n "$(compose ps -q)" ]; then
    echo "a network is already running: run '$0 down' first" >&2
    exit 1
  fi
  generate_once
  start_orderer
  start_peer 1 peer0
  echo "peer0.org1 has started; its bootstrap peer peer1.org1 is not up yet, so it knows no one:"
  show_all
  start_peer 1 peer1
  echo "peer1.org1 contacts its bootstrap peer peer0.org1; they find each other (no channel, so no leader yet):"
  wait_members 1 peer0 1
  show_all
  start_peer 2 peer0
  start_peer 2 peer1
  echo "Org2's peers find each other the same way; the orgs do not know each other (no anchor peers yet):"
  wait_members 2 peer0 1
  show_all
  create_channel
  join_channel 1 peer0
  echo "peer0.org1 committed block 0 and, alone in Org1 on the channel, became the leader:"
  wait_leader 1
  show_all
  join_channel 1 peer1
  join_channel 2 peer0
  join_channel 2 peer1
  echo "Every peer joined; one leader per org (the lowest PKI-ID wins), still no cross-org membership:"
  wait_leader 1
  wait_leader 2
  show_all
  update_anchors 1
  echo "Block 1 names peer0.org1 as Org1's anchor: Org2's peers contact it and the orgs learn of each other:"
  wait_height 2
  wait_members 2 peer1 3
  show_all
  update_anchors 2
  wait_height 3
  show_all
  define_basic
  wait_height 4
  log "Invoking CreateAsset a1, endorsed by peer0.org1 and peer0.org2"
  invoke CreateAsset a1 blue 5 Tom 100
  wait_height 5
  echo "Block 4 went from the orderer to each org's leader, and by gossip to the other peer of each org:"
  show_all
  for p in "${PEERS[@]}"; do
    read -r peer org _ ops _ <<< "$p"
    printf '  %-24s block 4 arrived by %s\n' "$peer.org$org.example.com" \
      "$(ops "$ops" "/channels/$CHANNEL/blocks/4" | jq -r '"\(.source) from \(.from // "-")"')"
  done
  log "Querying ReadAsset a1 on peer1.org2"
  as 2 peer1 peer chaincode query -C "$CHANNEL" -n basic -c '{"Args":["ReadAsset","a1"]}'
}

# invoke ARGS... : a basic invoke endorsed by peer0.org1 and peer0.org2, waiting for the commit.
invoke() {
  local args; args=$(printf '"%s",' "$@")
  as 1 peer0 peer chaincode invoke -o $ORDERER_ADDRESS --tls --cafile "$ORDERER_CA" -C "$CHANNEL" -n basic \
    --peerAddresses 127.0.0.1:7051 --peerAddresses 127.0.0.1:9051 -c "{\"Args\":[${args%,}]}" --waitForEvent
}

# wait_members ORG PEER N : waits (at most 60 s) until that peer sees N alive members.
wait_members() {
  local port deadline=$((SECONDS + 60)); port=$(ops_port "$1" "$2")
  until [ "$(ops "$port" /gossip/membership | jq '.alive | length' 2> /dev/null)" = "$3" ]; do
    [ $SECONDS -lt $deadline ] || { echo "$2.org$1 never saw $3 members" >&2; exit 1; }
    sleep 0.5
  done
}

# wait_leader ORG : waits (at most 60 s) until exactly one running peer of the org says it leads the channel.
wait_leader() {
  local deadline=$((SECONDS + 60))
  until [ "$(leaders "$1" | wc -w)" = 1 ]; do
    [ $SECONDS -lt $deadline ] || { echo "Org$1 has no single leader: $(leaders "$1")" >&2; exit 1; }
    sleep 0.5
  done
}

# leaders ORG : the names of the org's peers that say they lead the channel.
leaders() {
  for p in "${PEERS[@]}"; do
    read -r peer org _ ops _ <<< "$p"
    [ "$org" = "$1" ] && [ "$(ops "$ops" "/channels/$CHANNEL" | jq -r .leader 2> /dev/null)" = true ] &&
      echo "$peer.org$org.example.com"
  done
  return 0
}

status() {
  printf '  %-24s %s\n' orderer.example.com "$(ops 9443 /healthz || echo down)"
  show_all
}

down() {
  compose --profile jaeger down -v --remove-orphans
  rm -rf "$STATE"
  echo "network removed (containers, network weft_test, volumes) and $STATE deleted"
}

case "${1:-}" in
  images) images ;;
  up) up ;;
  createChannel) channel_steps; wait_height 3 ;;
  walkthrough) walkthrough ;;
  status) status ;;
  down) down ;;
  *) echo "usage: $0 images|up|createChannel|walkthrough|status|down" >&2; exit 2 ;;
esac
