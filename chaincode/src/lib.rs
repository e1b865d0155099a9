//! Chaincode API, transaction simulation with read/write sets, and built-in chaincodes.
//!
//! # Layout
//!
//! - [`state`]: [`StateReader`], committed world state as simulation sees it, and [`MemoryState`].
//! - [`context`]: [`TxContext`], who invoked what and when (time enters only here).
//! - [`stub`]: the [`Stub`] a chaincode calls and the [`Chaincode`] trait.
//! - [`composite`]: Fabric's composite-key encoding.
//! - [`simulation`]: [`simulate`], which runs a chaincode and records its read/write set.
//! - [`registry`]: [`Registry`], chaincodes by name.
//! - [`basic`], [`kv`], [`lifecycle`]: the built-in chaincodes.
//!
//! Everything here is pure: no I/O, no clock, no threads. The peer supplies state and context.

mod args;
pub mod basic;
pub mod composite;
pub mod context;
pub mod error;
pub mod kv;
pub mod lifecycle;
pub mod registry;
pub mod simulation;
pub mod state;
pub mod stub;

#[cfg(test)]
mod tests;

pub use context::TxContext;
pub use error::ChaincodeError;
pub use lifecycle::{LIFECYCLE, definition};
pub use registry::Registry;
pub use simulation::{Simulation, simulate};
pub use state::{MemoryState, StateError, StateReader};
pub use stub::{Chaincode, Stub};
