//! Node configuration (YAML + env overrides), admin HTTP, metrics and logging.
//!
//! Every weft binary (peer, orderer, ca) uses this crate the way Fabric's nodes use viper, flogging and the
//! operations service:
//!
//! - [`config`]: load a typed config struct from its `Default`, a YAML file (`core.yaml`, `orderer.yaml`) and
//!   viper-style environment overrides (`CORE_PEER_GOSSIP_USELEADERELECTION=true`), with serde helpers for Go
//!   durations ([`config::duration`]) and byte sizes ([`config::size`]).
//! - [`logging`]: `FABRIC_LOGGING_SPEC` grammar (`gossip=debug:info`) on top of `tracing`, changeable at run time.
//! - [`admin`]: the operations service (`/healthz`, `/version`, `/metrics`, `/logspec`) as an axum [`axum::Router`],
//!   the Prometheus recorder, a graceful `serve`, and a tiny blocking HTTP client for status probes.
//! - [`malloc`]: how the C allocator keeps freed memory (set first thing in each node's `main`).
//! - [`signals`]: shutdown on SIGINT or SIGTERM.
//! - [`trace`]: OTLP span export and the W3C trace context that messages carry.

pub mod admin;
pub mod config;
pub mod logging;
pub mod malloc;
pub mod signals;
pub mod trace;
