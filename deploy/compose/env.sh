# Sets the host's peer CLI environment for one peer of the compose network (its published port), like
# test-network's setGlobals:  source deploy/compose/env.sh org1 peer0
_weft_compose=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
WEFT_STATE=$_weft_compose/state \
  WEFT_BIN=${WEFT_BIN:-$(cd "$_weft_compose/../.." && pwd)/target/x86_64-unknown-linux-gnu/release} \
  source "$_weft_compose/../local/env.sh" "$@"
unset _weft_compose
