//! In-crate tests against [`MemoryState`](crate::MemoryState).

mod basic;
mod composite;
mod kv;
mod lifecycle;
mod registry;
mod simulation;
mod util;
