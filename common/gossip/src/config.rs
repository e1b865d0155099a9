//! `peer.gossip.*` settings the cores use, with Fabric's defaults (`sampleconfig/core.yaml`).

use std::time::Duration;

/// Gossip timers and fan-outs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GossipConfig {
    /// Heartbeat period (`aliveTimeInterval`).
    pub alive_time_interval: Duration,
    /// Silence after which a member is dead (`aliveExpirationTimeout`).
    pub alive_expiration_timeout: Duration,
    /// Period of reconnect attempts to dead members and bootstrap retries (`reconnectInterval`).
    pub reconnect_interval: Duration,
    /// Dead members are forgotten after `alive_expiration_timeout × msg_expiration_factor`.
    pub msg_expiration_factor: u32,
    /// Membership sync and pull period (`pullInterval`).
    pub pull_interval: Duration,
    /// Peers asked per membership sync (`pullPeerNum`).
    pub pull_peer_num: usize,
    /// Push fan-out (`propagatePeerNum`).
    pub propagate_peer_num: usize,
    /// The certificate is embedded in alive messages for this long after start (`publishCertPeriod`).
    pub publish_cert_period: Duration,
    /// StateInfo pull period (`requestStateInfoInterval`).
    pub request_state_info_interval: Duration,
    /// StateInfo publish check period (`publishStateInfoInterval`).
    pub publish_state_info_interval: Duration,
    /// Height changes closer than this to the last published StateInfo wait for its end and go out together
    /// (weft: a height change after a quiet second is published at once, Fabric waits for the next
    /// `publishStateInfoInterval` check). Not shorter: every publication is signed once and verified by every
    /// channel member, and one per block cost each peer about 1.2 ms of CPU per block, in the very
    /// milliseconds its org's peers spend verifying and committing that block. With push on, nothing waits on
    /// it: a pushed block that shows a gap, or a new connection's StateInfo exchange, starts state transfer at
    /// once; with push off (`propagateIterations: 0`), followers learn of new blocks within this gap.
    pub state_info_min_gap: Duration,
    /// Membership diff/log period (`membershipTrackerInterval`).
    pub membership_tracker_interval: Duration,
    /// Bootstrap connection attempts (`maxConnectionAttempts`).
    pub max_connection_attempts: u32,
    /// Times each pushed block is sent to a fresh random set of peers (`propagateIterations`; 0 disables push).
    pub propagate_iterations: u32,
    /// Blocks pushed together at most (`maxPropagationBurstSize`).
    pub max_propagation_burst_size: usize,
    /// The longest a block waits to be pushed with others (`maxPropagationBurstLatency`).
    pub max_propagation_burst_latency: Duration,
    /// Recent blocks kept for deduplication and pull (`maxBlockCountToStore`).
    pub max_block_count_to_store: usize,
    /// Blocks asked per state-transfer request (`state.batchSize`).
    pub state_batch_size: u64,
    /// How long a state-transfer request may go unanswered (`state.responseTimeout`).
    pub state_response_timeout: Duration,
    /// Extra attempts of a state-transfer request (`state.maxRetries`).
    pub state_max_retries: u32,
    /// State-transfer requests in flight at once (weft: Fabric sends one at a time).
    pub state_parallel_requests: usize,
    /// Request missing blocks by state transfer (`peer.gossip.state.enabled`); serving is always on.
    pub state_transfer: bool,
}

impl Default for GossipConfig {
    fn default() -> Self {
        Self {
            alive_time_interval: Duration::from_secs(5),
            alive_expiration_timeout: Duration::from_secs(25),
            reconnect_interval: Duration::from_secs(25),
            msg_expiration_factor: 20,
            pull_interval: Duration::from_secs(4),
            pull_peer_num: 3,
            propagate_peer_num: 3,
            publish_cert_period: Duration::from_secs(10),
            request_state_info_interval: Duration::from_secs(4),
            publish_state_info_interval: Duration::from_secs(4),
            state_info_min_gap: Duration::from_secs(1),
            membership_tracker_interval: Duration::from_secs(5),
            max_connection_attempts: 120,
            propagate_iterations: 1,
            max_propagation_burst_size: 10,
            max_propagation_burst_latency: Duration::from_millis(10),
            max_block_count_to_store: 10,
            state_batch_size: 10,
            state_response_timeout: Duration::from_secs(3),
            state_max_retries: 3,
            state_parallel_requests: 4,
            state_transfer: true,
        }
    }
}

impl GossipConfig {
    /// Fabric checks expiry every `aliveExpirationTimeout / 10`.
    pub fn alive_check_interval(&self) -> Duration {
        self.alive_expiration_timeout / 10
    }

    /// After this long without news, a member is forgotten (bootstrap and anchor peers excepted).
    pub fn purge_after(&self) -> Duration {
        self.alive_expiration_timeout * self.msg_expiration_factor
    }
}
