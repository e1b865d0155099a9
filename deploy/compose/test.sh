#!/usr/bin/env bash
# The compose network end to end (run by `make compose-test` and CI; the images must exist: `make images`):
#   1. up (create, join, anchors, basic), one invoke: all four peers report the same height and hash;
#   2. docker stop the Org1 leader: the other Org1 peer takes over, an invoke commits on the three running
#      peers; docker start it: it catches up;
#   3. docker network disconnect one Org2 peer, invokes, reconnect: it catches up with every block;
#   4. down -v leaves no container, network or volume of the project behind.
# Every wait is on a condition with a deadline; on failure the containers' last log lines are printed.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
NET=$HERE/network.sh
CHANNEL=${CHANNEL_NAME:-mychannel}
STATE=$HERE/state
BIN=${WEFT_BIN:-$HERE/../../target/x86_64-unknown-linux-gnu/release}
# shellcheck source=../common.sh
source "$HERE/../common.sh"
started=$SECONDS

# shellcheck disable=SC2317  # called by the trap
on_exit() {
  local rc=$?
  if [ $rc -ne 0 ]; then
    echo "compose test FAILED (exit $rc); last log lines of each container:" >&2
    for c in $(docker ps -a --filter label=com.docker.compose.project=weft --format '{{.Names}}'); do
      echo "--- $c" >&2
      docker logs --tail 15 "$c" >&2 2>&1 || true
    done
    bash "$NET" down > /dev/null 2>&1 || true
  fi
}
trap on_exit EXIT

step() { printf '\n\033[1m### %s (%ss)\033[0m\n' "$*" $((SECONDS - started)); }
fail() { echo "FAIL: $*" >&2; exit 1; }

# ops_port NAME / peer_port NAME : a peer's published operations and QUIC ports.
ops_port() { local p; p=$(peer_ports "$1"); echo "${p#* }"; }
peer_port() { local p; p=$(peer_ports "$1"); echo "${p% *}"; }
# field NAME JQ : a field of the peer's /channels/{channel} view, empty if it does not answer.
field() {
  curl -fsS --max-time 3 "http://127.0.0.1:$(ops_port "$1")/channels/$CHANNEL" 2> /dev/null | jq -r "$2" 2> /dev/null || true
}

# wait_until SECONDS DESCRIPTION COMMAND... : polls COMMAND every 0.5 s until it succeeds.
wait_until() {
  local limit=$1 what=$2 deadline=$((SECONDS + $1)); shift 2
  until "$@"; do
    [ $SECONDS -lt $deadline ] || fail "$what (not within ${limit}s)"
    sleep 0.5
  done
}

# same_chain HEIGHT PEER... : every named peer is at HEIGHT with the same current block hash.
same_chain() {
  local want=$1 hash="" h; shift
  for p in "$@"; do
    [ "$(field "$p" .height)" = "$want" ] || return 1
    h=$(field "$p" .current_block_hash)
    [ -n "$hash" ] && [ "$h" != "$hash" ] && return 1
    hash=$h
  done
  return 0
}

height() { field "$1" .height; }

# invoke ORG1_PEER ORG2_PEER ASSET : CreateAsset endorsed by the two named peers, as Org1's admin set up for
# ORG1_PEER, waiting for its commit.
invoke() {
  # shellcheck source=env.sh
  (source "$HERE/env.sh" org1 "${1%%.*}" > /dev/null
   peer chaincode invoke -o "$ORDERER_ADDRESS" --tls --cafile "$ORDERER_CA" -C "$CHANNEL" -n basic \
     --peerAddresses "127.0.0.1:$(peer_port "$1")" --peerAddresses "127.0.0.1:$(peer_port "$2")" \
     -c "{\"Args\":[\"CreateAsset\",\"$3\",\"blue\",\"5\",\"Tom\",\"100\"]}" --waitForEvent)
}

leader_of_org() {
  for p in "peer0.org$1.example.com" "peer1.org$1.example.com"; do
    [ "$(field "$p" .leader)" = true ] && echo "$p"
  done
  return 0
}

is_leader() { [ "$(field "$1" .leader)" = true ]; }
one_leader() { [ "$(leader_of_org "$1" | wc -l)" = 1 ]; }

ALL=(peer0.org1.example.com peer1.org1.example.com peer0.org2.example.com peer1.org2.example.com)

step "1. up: create, join, anchors, basic; one invoke"
bash "$NET" down > /dev/null 2>&1 || true
bash "$NET" up
invoke peer0.org1.example.com peer0.org2.example.com a1
wait_until 60 "all four peers at height 5 with one hash" same_chain 5 "${ALL[@]}"
echo "all four peers: height 5, hash $(field peer0.org1.example.com .current_block_hash)"

step "2. docker stop the Org1 leader"
wait_until 60 "Org1 has one leader" one_leader 1
old=$(leader_of_org 1)
other=peer0.org1.example.com
[ "$old" = "$other" ] && other=peer1.org1.example.com
echo "Org1 leader: $old; stopping it"
docker stop "$old" > /dev/null
wait_until 60 "$other becomes Org1's leader" is_leader "$other"
echo "$other is now Org1's leader"
running=("$other" peer0.org2.example.com peer1.org2.example.com)
invoke "$other" peer0.org2.example.com a2
wait_until 60 "the three running peers commit block 5" same_chain 6 "${running[@]}"
echo "block 5 committed on ${running[*]}"
docker start "$old" > /dev/null
wait_until 120 "$old catches up to height 6" same_chain 6 "${ALL[@]}"
echo "$old restarted and caught up: all four at height 6"

step "3. docker network disconnect an Org2 peer, invoke, reconnect"
cut=peer1.org2.example.com
before=$(height "$cut")
docker network disconnect weft_test "$cut"
echo "$cut disconnected at height $before"
for a in a3 a4 a5; do invoke peer0.org1.example.com peer0.org2.example.com "$a"; done
wait_until 60 "the connected peers reach height 9" same_chain 9 peer0.org1.example.com peer1.org1.example.com peer0.org2.example.com
# Its published ports went with the network: the operations endpoint is unreachable until it reconnects.
[ -z "$(height "$cut")" ] || fail "$cut still answers on its operations port while disconnected"
docker network connect weft_test "$cut"
echo "$cut reconnected"
wait_until 180 "$cut catches up to height 9" same_chain 9 "${ALL[@]}"
for n in $(seq "$before" 8); do
  curl -fsS --max-time 3 "http://127.0.0.1:$(ops_port "$cut")/channels/$CHANNEL/blocks/$n" > /dev/null ||
    fail "$cut has no block $n"
done
echo "$cut caught up: blocks $before..8 present (arrived by: $(for n in $(seq "$before" 8); do
  curl -fsS "http://127.0.0.1:$(ops_port "$cut")/channels/$CHANNEL/blocks/$n" | jq -r .source; done | sort | uniq -c |
  xargs)), same hash as the others"
(source "$HERE/env.sh" org2 peer1 > /dev/null
 peer chaincode query -C "$CHANNEL" -n basic -c '{"Args":["ReadAsset","a5"]}') | grep -q '"ID":"a5"' ||
  fail "query of a5 on $cut"

step "4. down -v"
bash "$NET" down
left=$(docker ps -aq --filter label=com.docker.compose.project=weft)
[ -z "$left" ] || fail "containers left: $left"
! docker network inspect weft_test > /dev/null 2>&1 || fail "network weft_test left"
vols=$(docker volume ls -q --filter label=com.docker.compose.project=weft)
[ -z "$vols" ] || fail "volumes left: $vols"
echo "no containers, networks or volumes left"
echo "compose test passed in $((SECONDS - started)) s"
