//! Proof files under `<data_dir>/proofs/`, named by the Blake2s of their bytes.
//!
//! A file is written to a temporary name, synced, and renamed into place before the database
//! row that points at it commits; a crash in between leaves a file no row names, which
//! [`ProofFiles::sweep`] deletes on the next start. Proofs are deterministic, so proving a job
//! again after a crash writes the same file under the same name.

use std::collections::HashSet;
use std::io::Write;
use std::path::{Path, PathBuf};

use super::{ProofBlobs, StoreError, proof_name};

/// The proof directory.
#[derive(Debug, Clone)]
pub struct ProofFiles {
    dir: PathBuf,
}

impl ProofFiles {
    /// The store under `dir` (created if needed).
    pub fn open(dir: &Path) -> std::io::Result<ProofFiles> {
        std::fs::create_dir_all(dir)?;
        Ok(ProofFiles { dir: dir.into() })
    }

    /// Stores `bytes` durably; returns the file name.
    pub fn put(&self, bytes: &[u8]) -> std::io::Result<String> {
        let name = proof_name(bytes);
        let tmp = self.dir.join(format!(".tmp-{}", uuid::Uuid::now_v7()));
        let written = (|| {
            let mut file = std::fs::File::create(&tmp)?;
            file.write_all(bytes)?;
            file.sync_all()?;
            std::fs::rename(&tmp, self.dir.join(&name))?;
            std::fs::File::open(&self.dir)?.sync_all()
        })();
        if written.is_err() {
            let _ = std::fs::remove_file(&tmp);
        }
        written.map(|()| name)
    }

    /// The bytes of a stored file.
    pub fn get(&self, name: &str) -> std::io::Result<Vec<u8>> {
        if name.contains(['/', '\\']) || name.starts_with('.') {
            return Err(std::io::Error::other(format!("bad proof file name {name}")));
        }
        std::fs::read(self.dir.join(name))
    }

    /// Deletes every file not in `keep` (orphans of a crash, temporary files); returns how many.
    pub fn sweep(&self, keep: &HashSet<String>) -> std::io::Result<usize> {
        let mut removed = 0;
        for entry in std::fs::read_dir(&self.dir)? {
            let entry = entry?;
            let name = entry.file_name().to_string_lossy().into_owned();
            if !keep.contains(&name) && entry.file_type()?.is_file() {
                std::fs::remove_file(entry.path())?;
                removed += 1;
            }
        }
        Ok(removed)
    }

    /// Names of the files present.
    pub fn list(&self) -> std::io::Result<Vec<String>> {
        let mut names = Vec::new();
        for entry in std::fs::read_dir(&self.dir)? {
            names.push(entry?.file_name().to_string_lossy().into_owned());
        }
        names.sort();
        Ok(names)
    }
}

#[async_trait::async_trait]
impl ProofBlobs for ProofFiles {
    async fn put_proof(&self, bytes: &[u8]) -> Result<String, StoreError> {
        let (files, bytes) = (self.clone(), bytes.to_vec());
        tokio::task::spawn_blocking(move || files.put(&bytes))
            .await
            .map_err(|e| StoreError::Proofs(std::io::Error::other(e)))?
            .map_err(StoreError::Proofs)
    }

    async fn proof_bytes(&self, name: &str) -> Result<Option<Vec<u8>>, StoreError> {
        let (files, name) = (self.clone(), name.to_string());
        match tokio::task::spawn_blocking(move || files.get(&name))
            .await
            .map_err(|e| StoreError::Proofs(std::io::Error::other(e)))?
        {
            Ok(bytes) => Ok(Some(bytes)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(StoreError::Proofs(e)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn content_addressed_and_swept() {
        let dir = tempfile::tempdir().unwrap();
        let files = ProofFiles::open(&dir.path().join("proofs")).unwrap();
        let a = files.put(b"proof a").unwrap();
        assert_eq!(files.put(b"proof a").unwrap(), a, "same bytes, same name");
        let b = files.put(b"proof b").unwrap();
        assert_ne!(a, b);
        assert_eq!(files.get(&a).unwrap(), b"proof a");
        assert!(files.get("../x").is_err());
        std::fs::write(dir.path().join("proofs/.tmp-crash"), b"half").unwrap();

        let keep: HashSet<String> = [a.clone()].into();
        assert_eq!(files.sweep(&keep).unwrap(), 2, "b and the temporary file");
        assert_eq!(files.list().unwrap(), vec![a]);
    }
}
