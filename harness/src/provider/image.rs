//! The node image: `FROM scratch` + the static `timed` binary, built locally
//! through the Docker API (no registry, no base image: this machine can pull
//! nothing). The image carries the binary's SHA-256 in a label, so a run can
//! tell whether the image is stale and rebuild it without asking anyone.

use crate::provider::error::InfraError;
use bollard::image::{BuildImageOptions, TagImageOptions};
use bollard::Docker;
use futures::StreamExt;
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::path::{Path, PathBuf};

pub const IMAGE_REPO: &str = "timenet/timed";
/// Label holding the hex SHA-256 of `/timed` inside the image.
pub const HASH_LABEL: &str = "timenet.timed.sha256";
/// The repository's Dockerfile is the one single source of truth for the image.
const DOCKERFILE: &str = include_str!("../../../Dockerfile");

#[derive(Clone, Debug)]
pub struct NodeImage {
    /// `timenet/timed:<sha prefix>`: what containers are created from.
    pub tag: String,
    pub sha256: String,
    pub binary: PathBuf,
    /// Whether this call built it (false: it was cached).
    pub built: bool,
}

/// Find the static `timed` binary: `$TIMED_BIN`, else next to the harness
/// executable or one folder up (tests and benches run from `.../<profile>/deps`),
/// else build it with `cargo build -p timed` in the same profile.
pub fn locate_timed() -> Result<PathBuf, InfraError> {
    if let Ok(p) = std::env::var("TIMED_BIN") {
        let p = PathBuf::from(p);
        return if p.is_file() {
            Ok(p)
        } else {
            Err(InfraError(format!(
                "TIMED_BIN={} is not a file",
                p.display()
            )))
        };
    }
    let exe = std::env::current_exe()
        .map_err(|e| InfraError(format!("cannot find the harness executable: {e}")))?;
    let dir = exe.parent().unwrap_or(Path::new("."));
    let candidates = [dir.join("timed"), dir.parent().unwrap_or(dir).join("timed")];
    if let Some(p) = candidates.iter().find(|p| p.is_file()) {
        return Ok(p.clone());
    }
    cargo_build_timed(dir)
}

/// `cargo build -p timed` in the harness's own profile, then look again.
fn cargo_build_timed(exe_dir: &Path) -> Result<PathBuf, InfraError> {
    let profile_dir = if exe_dir.ends_with("deps") {
        exe_dir.parent().unwrap_or(exe_dir)
    } else {
        exe_dir
    };
    let profile = profile_dir
        .file_name()
        .and_then(|s| s.to_str())
        .unwrap_or("debug");
    let cargo_profile = if profile == "debug" { "dev" } else { profile };
    eprintln!("building the node binary: cargo build -p timed --profile {cargo_profile}");
    let status = std::process::Command::new(std::env::var("CARGO").unwrap_or("cargo".into()))
        .args(["build", "-p", "timed", "--profile", cargo_profile])
        .status()
        .map_err(|e| {
            InfraError(format!(
                "no `timed` binary next to the harness and cargo could not run ({e}); \
                 build it with `cargo build -p timed` or set TIMED_BIN"
            ))
        })?;
    let p = profile_dir.join("timed");
    if !status.success() || !p.is_file() {
        return Err(InfraError(format!(
            "building `timed` failed ({status}); expected it at {}",
            p.display()
        )));
    }
    Ok(p)
}

pub fn sha256_file(path: &Path) -> Result<String, InfraError> {
    let bytes =
        std::fs::read(path).map_err(|e| InfraError(format!("reading {}: {e}", path.display())))?;
    Ok(hex::encode(Sha256::digest(&bytes)))
}

fn tag_for(sha: &str) -> String {
    format!("{IMAGE_REPO}:{}", &sha[..12])
}

/// Make sure an image for the current binary exists; build it if missing or
/// stale (binary hash differs from the label) or if `force`.
pub async fn ensure(docker: &Docker, force: bool) -> Result<NodeImage, InfraError> {
    ensure_binary(docker, force, None).await
}

/// [`ensure`] for a given `timed` binary (`harness run --timed PATH`), or
/// the located one when `None`. An explicit binary's image is tagged by its
/// hash only: it does not move `timenet/timed:latest`.
pub async fn ensure_binary(
    docker: &Docker,
    force: bool,
    explicit: Option<&Path>,
) -> Result<NodeImage, InfraError> {
    let binary = match explicit {
        Some(p) if p.is_file() => p.to_path_buf(),
        Some(p) => return Err(InfraError(format!("--timed {}: no such file", p.display()))),
        None => locate_timed()?,
    };
    let sha256 = sha256_file(&binary)?;
    let tag = tag_for(&sha256);
    if !force {
        if let Ok(img) = docker.inspect_image(&tag).await {
            let label = img
                .config
                .and_then(|c| c.labels)
                .and_then(|l| l.get(HASH_LABEL).cloned());
            if label.as_deref() == Some(sha256.as_str()) {
                return Ok(NodeImage {
                    tag,
                    sha256,
                    binary,
                    built: false,
                });
            }
        }
    }
    build(docker, &binary, &sha256, &tag, explicit.is_none()).await?;
    Ok(NodeImage {
        tag,
        sha256,
        binary,
        built: true,
    })
}

/// The build context in memory: the Dockerfile and the binary as `timed`.
fn context_tar(binary: &Path) -> Result<Vec<u8>, InfraError> {
    let io = |e: std::io::Error| InfraError(format!("packing the image context: {e}"));
    let bin = std::fs::read(binary).map_err(io)?;
    let mut tar = tar::Builder::new(Vec::new());
    let mut add = |name: &str, data: &[u8], mode: u32| {
        let mut h = tar::Header::new_gnu();
        h.set_size(data.len() as u64);
        h.set_mode(mode);
        h.set_cksum();
        tar.append_data(&mut h, name, data)
    };
    add("Dockerfile", DOCKERFILE.as_bytes(), 0o644).map_err(io)?;
    add("timed", &bin, 0o755).map_err(io)?;
    tar.into_inner().map_err(io)
}

async fn build(
    docker: &Docker,
    binary: &Path,
    sha: &str,
    tag: &str,
    tag_latest: bool,
) -> Result<(), InfraError> {
    let context = context_tar(binary)?;
    let opts = BuildImageOptions {
        dockerfile: "Dockerfile".to_string(),
        t: tag.to_string(),
        rm: true,
        forcerm: true,
        labels: HashMap::from([(HASH_LABEL.to_string(), sha.to_string())]),
        ..Default::default()
    };
    let mut stream = docker.build_image(opts, None, Some(context.into()));
    let mut output = String::new();
    while let Some(item) = stream.next().await {
        let info =
            item.map_err(|e| InfraError(format!("building image {tag} failed: {e}\n{output}")))?;
        if let Some(err) = info.error {
            return Err(InfraError(format!(
                "building image {tag} failed: {err}\n{output}"
            )));
        }
        if let Some(s) = info.stream {
            output.push_str(&s);
        }
    }
    if !tag_latest {
        tracing::info!(tag, binary = %binary.display(), "built node image");
        return Ok(());
    }
    let latest = TagImageOptions {
        repo: IMAGE_REPO,
        tag: "latest",
    };
    docker
        .tag_image(tag, Some(latest))
        .await
        .map_err(|e| InfraError(format!("tagging {tag} as {IMAGE_REPO}:latest: {e}")))?;
    tracing::info!(tag, binary = %binary.display(), "built node image");
    Ok(())
}
