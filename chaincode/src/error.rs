//! The error a chaincode returns; simulation turns it into a status-500 response.

use crate::state::StateError;

/// Why a chaincode invocation failed. The failed invocation's writes are discarded.
#[derive(Debug, thiserror::Error)]
pub enum ChaincodeError {
    /// The chaincode rejected the call (bad arguments, missing asset, ...); the text goes to the client.
    #[error("{0}")]
    Message(String),
    /// Reading world state failed.
    #[error(transparent)]
    State(#[from] StateError),
}

impl ChaincodeError {
    /// A [`ChaincodeError::Message`] with `text`.
    pub fn msg(text: impl Into<String>) -> Self {
        Self::Message(text.into())
    }
}
