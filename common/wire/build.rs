//! Compiles the `.proto` schema with protox (pure Rust), so no system `protoc` is needed.
fn main() {
    let files = [
        "proto/common.proto",
        "proto/config.proto",
        "proto/orderer.proto",
        "proto/service.proto",
        "proto/gossip.proto",
        "proto/transaction.proto",
        "proto/ledger.proto",
    ];
    for f in files {
        println!("cargo:rerun-if-changed={f}");
    }
    let fds = protox::compile(files, ["proto"]).expect("the .proto schema compiles");
    prost_build::Config::new()
        .btree_map(["."])
        // A block's bytes as they travel (Deliver, gossip push, pull and state transfer) are shared, not copied:
        // decoding from a frame's `Bytes` slices it (a decoded block's transactions too), and a stored or
        // forwarded envelope is a reference count.
        .bytes([
            ".weft.orderer.DeliverResponseBytes.block",
            ".weft.gossip.Envelope.payload",
            ".weft.gossip.Payload.data",
            ".weft.common.BlockData.data",
        ])
        .compile_fds(fds)
        .expect("prost generates code for the schema");
}
