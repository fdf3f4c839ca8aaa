//! A throwaway PostgreSQL server for tests and local trials: `initdb` into a temporary
//! directory, `postgres` on a free loopback port, stopped by pid when dropped, or by a
//! watchdog when the process that started it dies (even by SIGKILL).
//!
//! The binaries come from `OBELYSK_PG_BIN`, else the newest `/usr/lib/postgresql/*/bin`
//! (Debian's `postgresql` package), else `PATH`. PostgreSQL refuses to run as root, so under
//! root the server runs as the `postgres` user that the package creates.

use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// A running server; dropped, it stops and its directory is removed.
pub struct TempPostgres {
    dir: tempfile::TempDir,
    port: u16,
    pid: u32,
}

/// Why a server did not start.
#[derive(Debug, thiserror::Error)]
#[error("cannot start a test PostgreSQL: {0}")]
pub struct TempPostgresError(String);

fn fail(what: impl Into<String>) -> TempPostgresError {
    TempPostgresError(what.into())
}

/// Where `initdb` and `postgres` are.
fn bin_dir() -> Result<PathBuf, TempPostgresError> {
    if let Some(dir) = std::env::var_os("OBELYSK_PG_BIN") {
        return Ok(dir.into());
    }
    let mut versions: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|entry| {
            let version = entry.file_name().to_str()?.parse().ok()?;
            Some((version, entry.path().join("bin")))
        })
        .filter(|(_, bin)| bin.join("initdb").exists())
        .collect();
    versions.sort();
    if let Some((_, bin)) = versions.pop() {
        return Ok(bin);
    }
    let on_path = Command::new("initdb").arg("--version").output();
    match on_path {
        Ok(out) if out.status.success() => Ok(PathBuf::new()),
        _ => Err(fail(
            "no PostgreSQL binaries (install Debian's `postgresql` package, or set OBELYSK_PG_BIN)",
        )),
    }
}

fn running_as_root() -> bool {
    std::fs::metadata("/proc/self").is_ok_and(|m| m.uid() == 0)
}

/// `program args…`, as the `postgres` user when we are root.
fn command(bin: &Path, program: &str, as_postgres: bool) -> Command {
    let path = bin.join(program);
    match as_postgres {
        true => {
            let mut command = Command::new("runuser");
            command.args(["-u", "postgres", "--"]).arg(path);
            command
        }
        false => Command::new(path),
    }
}

fn free_port() -> Result<u16, TempPostgresError> {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").map_err(|e| fail(e.to_string()))?;
    Ok(listener
        .local_addr()
        .map_err(|e| fail(e.to_string()))?
        .port())
}

impl TempPostgres {
    /// Starts a server with `fsync` off (tests need no durability across power loss).
    pub fn start() -> Result<TempPostgres, TempPostgresError> {
        Self::start_with(&["-c", "fsync=off", "-c", "synchronous_commit=off"])
    }

    /// Starts a server with durable commits, as a production one (for measurements).
    pub fn start_durable() -> Result<TempPostgres, TempPostgresError> {
        Self::start_with(&[])
    }

    fn start_with(settings: &[&str]) -> Result<TempPostgres, TempPostgresError> {
        let bin = bin_dir()?;
        let root = running_as_root();
        let dir = tempfile::Builder::new()
            .prefix("obelysk-pg-")
            .tempdir()
            .map_err(|e| fail(e.to_string()))?;
        if root {
            let owned = Command::new("chown")
                .arg("postgres:")
                .arg(dir.path())
                .status();
            if !owned.is_ok_and(|s| s.success()) {
                return Err(fail(
                    "cannot give the data directory to the `postgres` user",
                ));
            }
        }
        let data = dir.path().join("data");
        let init = command(&bin, "initdb", root)
            .arg("-D")
            .arg(&data)
            .args(["-U", "obelysk", "--auth=trust", "-E", "UTF8", "--no-sync"])
            .stdout(Stdio::null())
            .output()
            .map_err(|e| fail(format!("initdb: {e}")))?;
        if !init.status.success() {
            return Err(fail(format!(
                "initdb: {}",
                String::from_utf8_lossy(&init.stderr)
            )));
        }
        let port = free_port()?;
        let log = dir.path().join("server.log");
        let log_file = std::fs::File::create(&log).map_err(|e| fail(e.to_string()))?;
        let log_err = log_file.try_clone().map_err(|e| fail(e.to_string()))?;
        let mut server = command(&bin, "postgres", root)
            .arg("-D")
            .arg(&data)
            .args(["-p", &port.to_string(), "-h", "127.0.0.1", "-k"])
            .arg(dir.path())
            .args(["-c", "max_connections=200"])
            .args(settings)
            .stdin(Stdio::null())
            .stdout(log_file)
            .stderr(log_err)
            .spawn()
            .map_err(|e| fail(format!("postgres: {e}")))?;
        // The postmaster writes its pid (the first line of postmaster.pid) once it runs.
        let started = Instant::now();
        let pid = loop {
            if let Ok(Some(status)) = server.try_wait() {
                let log = std::fs::read_to_string(&log).unwrap_or_default();
                return Err(fail(format!("postgres exited ({status}): {log}")));
            }
            let ready = std::fs::read_to_string(data.join("postmaster.pid"))
                .ok()
                .filter(|text| text.lines().count() >= 8 && text.contains("ready"));
            if let Some(text) = ready
                && let Some(pid) = text.lines().next().and_then(|l| l.trim().parse().ok())
            {
                break pid;
            }
            if started.elapsed() > Duration::from_secs(30) {
                let _ = server.kill();
                return Err(fail("postgres did not become ready in 30 s"));
            }
            std::thread::sleep(Duration::from_millis(50));
        };
        // Reap `server` in the background so it does not linger as a zombie.
        std::thread::spawn(move || server.wait());
        spawn_watchdog(pid, dir.path());
        Ok(TempPostgres { dir, port, pid })
    }

    /// The port the server listens on (127.0.0.1).
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The URL of database `name` (see [`TempPostgres::create_database`]).
    pub fn url(&self, name: &str) -> String {
        format!("postgres://obelysk@127.0.0.1:{}/{name}", self.port)
    }

    /// Creates an empty database; returns its URL.
    pub async fn create_database(&self, name: &str) -> Result<String, sqlx::Error> {
        use sqlx::Connection;
        let mut conn = sqlx::PgConnection::connect(&self.url("postgres")).await?;
        sqlx::raw_sql(&format!("CREATE DATABASE \"{name}\""))
            .execute(&mut conn)
            .await?;
        conn.close().await?;
        Ok(self.url(name))
    }

    /// The server's log so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("server.log")).unwrap_or_default()
    }
}

/// Stops the server (pid `pid`) and removes `dir` once this process is gone.
fn spawn_watchdog(pid: u32, dir: &Path) {
    let script = format!(
        "while kill -0 {parent} 2>/dev/null; do sleep 1; done; kill -QUIT {pid} 2>/dev/null; \
         sleep 2; rm -rf '{dir}'",
        parent = std::process::id(),
        dir = dir.display(),
    );
    let _ = Command::new("sh")
        .args(["-c", &script])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn();
}

impl Drop for TempPostgres {
    fn drop(&mut self) {
        // Immediate shutdown: nothing here needs to outlive the test.
        let _ = Command::new("kill")
            .args(["-QUIT", &self.pid.to_string()])
            .status();
        let deadline = Instant::now() + Duration::from_secs(10);
        while Path::new(&format!("/proc/{}", self.pid)).exists() && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}
