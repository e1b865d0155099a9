//! Writing the output tree: directories, public PEM files, and private keys readable only by
//! their owner (mode 0600, set at creation so the key is never briefly world-readable).

use std::fs;
use std::io::Write;
use std::path::Path;

use super::error::CryptogenError;

/// File name of every private key cryptogen writes (`keystore/priv_sk`, `ca/priv_sk`).
pub(crate) const PRIV_KEY_FILE: &str = "priv_sk";

/// `<name>-cert.pem`, Fabric's `x509Filename`.
pub(crate) fn cert_file_name(name: &str) -> String {
    format!("{name}-cert.pem")
}

/// Creates `dir` and its parents.
pub(crate) fn mkdir(dir: &Path) -> Result<(), CryptogenError> {
    fs::create_dir_all(dir).map_err(CryptogenError::write(dir))
}

/// Writes a public file (certificate, `config.yaml`), creating its directory.
pub(crate) fn write_public(path: &Path, contents: &str) -> Result<(), CryptogenError> {
    if let Some(parent) = path.parent() {
        mkdir(parent)?;
    }
    fs::write(path, contents).map_err(CryptogenError::write(path))
}

/// Writes a private key with mode 0600, creating its directory.
pub(crate) fn write_private(path: &Path, contents: &str) -> Result<(), CryptogenError> {
    if let Some(parent) = path.parent() {
        mkdir(parent)?;
    }
    let mut options = fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut file = options.open(path).map_err(CryptogenError::write(path))?;
    // `mode` only applies on creation; force it in case the file already existed.
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        file.set_permissions(fs::Permissions::from_mode(0o600))
            .map_err(CryptogenError::write(path))?;
    }
    file.write_all(contents.as_bytes())
        .and_then(|()| file.sync_all())
        .map_err(CryptogenError::write(path))
}

/// Removes `path` if it exists (a directory tree or a file).
pub(crate) fn remove_if_exists(path: &Path) -> Result<(), CryptogenError> {
    let result = match fs::symlink_metadata(path) {
        Ok(meta) if meta.is_dir() => fs::remove_dir_all(path),
        Ok(_) => fs::remove_file(path),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(e),
    };
    result.map_err(CryptogenError::write(path))
}
