//! Infrastructure failures: the environment, not the network under test, is
//! broken (no Docker engine, image build failed, a node never came up...).
//! The runner maps these to exit code 3; everything else that goes wrong in
//! setup is a bug or a bad scenario.

/// A failure of the machinery around the nodes, with a message that names
/// the cause and, where there is one, the fix.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct InfraError(pub String);

impl InfraError {
    pub fn new(msg: impl Into<String>) -> Self {
        InfraError(msg.into())
    }
}

/// Shorthand for `Err(InfraError(..).into())` in `anyhow` code.
pub fn infra(msg: impl Into<String>) -> anyhow::Error {
    InfraError::new(msg).into()
}

/// Whether an error chain contains an [`InfraError`].
pub fn is_infra(e: &anyhow::Error) -> bool {
    e.chain().any(|c| c.downcast_ref::<InfraError>().is_some())
}
