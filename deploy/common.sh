# Shared by deploy/local/network.sh and deploy/compose/network.sh: crypto material and channel artifacts for
# Fabric's first-network, and the CLI helpers. Source it after setting STATE (the network's state folder),
# BIN (the host's binaries) and CHANNEL; it defines functions only.

WEFT_DEPLOY=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# Both networks publish the same ports on 127.0.0.1, so the host's CLI reaches either the same way.
ORDERER_ADDRESS=127.0.0.1:7050
ORDERER_CA=$STATE/crypto-config/ordererOrganizations/example.com/orderers/orderer.example.com/msp/tlscacerts/tlsca.example.com-cert.pem
ARTIFACTS=$STATE/channel-artifacts
# name org port operations-port bootstrap-port
PEERS=(
  "peer0 1 7051 9444 8051"
  "peer1 1 8051 9445 7051"
  "peer0 2 9051 9446 10051"
  "peer1 2 10051 9447 9051"
)

# peer_ports NAME : "PORT OPS_PORT" of a peer named like peer0.org1.example.com.
peer_ports() {
  for p in "${PEERS[@]}"; do
    read -r peer org port ops _ <<< "$p"
    [ "$peer.org$org.example.com" = "$1" ] && { echo "$port $ops"; return; }
  done
  return 1
}

log() { printf '\n\033[1m==> %s\033[0m\n' "$*"; }

# need_bins DIR : every binary the scripts run from the host must be in DIR.
need_bins() {
  for b in peer orderer configtxgen weft-ca; do
    [ -x "$1/$b" ] || { echo "missing $1/$b: build it first (see the README)" >&2; exit 1; }
  done
}

# generate BIN STATE CHANNEL ORDERER_ADDRESS ORG1_ANCHOR ORG2_ANCHOR BATCH_TIMEOUT
# Runs cryptogen on deploy/local/crypto-config.yaml into STATE/crypto-config and configtxgen on
# deploy/local/configtx.yaml.tmpl (with the given orderer address and host:port anchors) into
# STATE/channel-artifacts: the genesis block, channel.tx and both orgs' anchor peer updates.
generate() {
  local bin=$1 state=$2 channel=$3 orderer=$4 anchor1=$5 anchor2=$6 timeout=$7
  local src=$WEFT_DEPLOY/local
  local artifacts=$ARTIFACTS
  log "Generating crypto material (cryptogen) and channel artifacts (configtxgen) in $state"
  mkdir -p "$artifacts"
  "$bin/weft-ca" cryptogen generate --config="$src/crypto-config.yaml" --output="$state/crypto-config"
  sed -e "s/@ORDERER_ADDRESS@/$orderer/g" \
      -e "s/@ORG1_ANCHOR_HOST@/${anchor1%:*}/; s/@ORG1_ANCHOR_PORT@/${anchor1##*:}/" \
      -e "s/@ORG2_ANCHOR_HOST@/${anchor2%:*}/; s/@ORG2_ANCHOR_PORT@/${anchor2##*:}/" \
      -e "s/@BATCH_TIMEOUT@/$timeout/" "$src/configtx.yaml.tmpl" > "$state/configtx.yaml"
  local gen=("$bin/configtxgen" -configPath "$state")
  "${gen[@]}" -profile TwoOrgsOrdererGenesis -channelID system-channel -outputBlock "$artifacts/genesis.block"
  "${gen[@]}" -profile TwoOrgsChannel -outputCreateChannelTx "$artifacts/channel.tx" -channelID "$channel"
  for org in 1 2; do
    "${gen[@]}" -profile TwoOrgsChannel -outputAnchorPeersUpdate "$artifacts/Org${org}MSPanchors.tx" \
      -channelID "$channel" -asOrg "Org${org}MSP"
  done
}

# as ORG PEER COMMAND... : runs a CLI command as ORG's Admin against that peer's published port, with
# test-network's setGlobals environment (deploy/local/env.sh).
as() {
  local org=$1 peer=$2; shift 2
  (
    # shellcheck source=local/env.sh
    WEFT_STATE=$STATE WEFT_BIN=$BIN source "$WEFT_DEPLOY/local/env.sh" "org$org" "$peer" > /dev/null
    "$@"
  )
}

height_of() {
  as "$1" "$2" peer channel getinfo -c "$CHANNEL" 2>/dev/null | sed -n 's/.*"height":\([0-9]*\).*/\1/p'
}

create_channel() {
  log "Creating channel $CHANNEL"
  as 1 peer0 peer channel create -o $ORDERER_ADDRESS -c "$CHANNEL" -f "$ARTIFACTS/channel.tx" \
    --outputBlock "$ARTIFACTS/$CHANNEL.block" --tls --cafile "$ORDERER_CA"
}

# join_channel ORG PEER
join_channel() {
  log "Joining $2.org$1.example.com to $CHANNEL"
  as "$1" "$2" peer channel join -b "$ARTIFACTS/$CHANNEL.block"
}

# update_anchors ORG
update_anchors() {
  log "Updating anchor peers for Org${1}MSP"
  as "$1" peer0 peer channel update -o $ORDERER_ADDRESS -c "$CHANNEL" -f "$ARTIFACTS/Org${1}MSPanchors.tx" \
    --tls --cafile "$ORDERER_CA"
}

define_basic() {
  log "Defining chaincode basic on $CHANNEL (Fabric's default policy: a majority of the orgs)"
  as 1 peer0 peer lifecycle chaincode commit -o $ORDERER_ADDRESS --tls --cafile "$ORDERER_CA" -C "$CHANNEL" \
    -n basic -v 1.0 --sequence 1 --peerAddresses 127.0.0.1:7051 --peerAddresses 127.0.0.1:9051 --waitForEvent
}

# wait_height H : waits (at most 60 s) until every peer reports height H on the channel.
wait_height() {
  local deadline=$((SECONDS + 60))
  for p in "${PEERS[@]}"; do
    read -r peer org _ <<< "$p"
    until [ "$(height_of "$org" "$peer")" = "$1" ]; do
      [ $SECONDS -lt $deadline ] || { echo "$peer.org$org stuck at height $(height_of "$org" "$peer")" >&2; exit 1; }
      sleep 0.2
    done
  done
}

# channel_steps: byfn's createChannel (create, join all four peers, both anchor peer updates).
channel_steps() {
  create_channel
  for p in "${PEERS[@]}"; do
    read -r peer org _ <<< "$p"
    join_channel "$org" "$peer"
  done
  update_anchors 1
  update_anchors 2
}

# byfn: the channel steps and the definition of basic, then every peer at height 4.
byfn() {
  channel_steps
  define_basic
  log "Waiting for every peer to commit the anchor peer updates and the definition (height 4)"
  wait_height 4
}
