# Sets the peer CLI environment for one peer of the local network, like test-network's setGlobals:
#   source deploy/local/env.sh org1 peer0
# then e.g. `peer channel getinfo -c mychannel` or
#   `peer channel fetch newest -c mychannel -o $ORDERER_ADDRESS --tls --cafile $ORDERER_CA`.
_weft_here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
_weft_state=${WEFT_STATE:-$_weft_here/state}
_weft_org=${1:-org1}
_weft_peer=${2:-peer0}
case "$_weft_org/$_weft_peer" in
  org1/peer0) _weft_port=7051; _weft_ops=9444 ;;
  org1/peer1) _weft_port=8051; _weft_ops=9445 ;;
  org2/peer0) _weft_port=9051; _weft_ops=9446 ;;
  org2/peer1) _weft_port=10051; _weft_ops=9447 ;;
  *) echo "usage: source env.sh org1|org2 peer0|peer1" >&2; return 2 2>/dev/null || exit 2 ;;
esac
_weft_orgdir=$_weft_state/crypto-config/peerOrganizations/$_weft_org.example.com
_weft_msp=$(echo "$_weft_org" | sed 's/^org/Org/')MSP
export FABRIC_CFG_PATH=$_weft_here/config
export CORE_PEER_LOCALMSPID=$_weft_msp
export CORE_PEER_ADDRESS=127.0.0.1:$_weft_port
export CORE_PEER_MSPCONFIGPATH=$_weft_orgdir/users/Admin@$_weft_org.example.com/msp
export CORE_PEER_TLS_ENABLED=true
export CORE_PEER_TLS_ROOTCERT_FILE=$_weft_orgdir/peers/$_weft_peer.$_weft_org.example.com/tls/ca.crt
export CORE_PEER_TLS_CLIENTCERT_FILE=$_weft_orgdir/users/Admin@$_weft_org.example.com/tls/client.crt
export CORE_PEER_TLS_CLIENTKEY_FILE=$_weft_orgdir/users/Admin@$_weft_org.example.com/tls/client.key
export CORE_OPERATIONS_LISTENADDRESS=127.0.0.1:$_weft_ops
export ORDERER_ADDRESS=127.0.0.1:7050
export ORDERER_CA=$_weft_state/crypto-config/ordererOrganizations/example.com/orderers/orderer.example.com/msp/tlscacerts/tlsca.example.com-cert.pem
_weft_bin=${WEFT_BIN:-$(cd "$_weft_here/../.." && pwd)/target/debug}
case ":$PATH:" in *":$_weft_bin:"*) ;; *) export PATH=$_weft_bin:$PATH ;; esac
echo "CLI set for $_weft_peer.$_weft_org.example.com ($CORE_PEER_ADDRESS) as Admin@$_weft_org.example.com"
unset _weft_here _weft_state _weft_org _weft_peer _weft_port _weft_ops _weft_orgdir _weft_msp _weft_bin
