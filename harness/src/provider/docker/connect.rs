//! Connecting to the Docker engine, with errors that say what is wrong.

use crate::provider::error::InfraError;
use bollard::Docker;
use std::time::Duration;

/// Where bollard will connect (for messages): `DOCKER_HOST` or the default socket.
pub fn docker_host() -> String {
    std::env::var("DOCKER_HOST").unwrap_or_else(|_| "unix:///var/run/docker.sock".into())
}

/// Connect and ping the engine. `DOCKER_HOST` is honoured (unix:// or tcp://).
/// Errors are [`InfraError`]s naming the cause: no engine, permission denied,
/// or an engine that does not answer.
pub async fn connect() -> Result<Docker, InfraError> {
    let host = docker_host();
    let docker = Docker::connect_with_defaults().map_err(|e| classify(&host, &e))?;
    match tokio::time::timeout(Duration::from_secs(10), docker.ping()).await {
        Ok(Ok(_)) => Ok(docker),
        Ok(Err(e)) => Err(classify(&host, &e)),
        Err(_) => Err(InfraError(format!(
            "the Docker engine at {host} did not answer a ping within 10 s"
        ))),
    }
}

/// Turn a failed ping into a message a CI user can act on.
pub fn classify(host: &str, e: &bollard::errors::Error) -> InfraError {
    let text = format!("{e} {e:?}").to_lowercase();
    if text.contains("permission denied") {
        InfraError(format!(
            "permission denied on the Docker socket {host}: run the harness as root or add \
             this user to the `docker` group ({e})"
        ))
    } else if text.contains("no such file")
        || text.contains("socket not found")
        || text.contains("connection refused")
        || text.contains("not found")
        || text.contains("error trying to connect")
    {
        InfraError(format!(
            "no Docker engine: nothing answers at {host} ({e}). Start the Docker daemon \
             (e.g. `sudo systemctl start docker`) or point DOCKER_HOST at a running one"
        ))
    } else {
        InfraError(format!("the Docker engine at {host} failed: {e}"))
    }
}
