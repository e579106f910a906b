//! Private, killable services for fault injection: a `redis-server` with AOF and a throwaway
//! PostgreSQL cluster, each on a free port in a temporary directory; the real `roompulse` binary
//! as child processes pointed at them.
//!
//! Nothing here touches the shared PostgreSQL and Redis on 5432/6379 that the other tests use.

use std::collections::{BTreeMap, HashSet};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use roompulse::data_provider::queue::{Backlog, Queue, QueueKeys};
use tempfile::TempDir;

use crate::common::fixtures::write_export;
use crate::common::free_port;
use crate::common::oracle::{Days, PaceTable};
use crate::common::redis::queued;
use crate::common::wait::eventually;

pub const QUEUE_KEY: &str = "roompulse:events";

fn is_root() -> bool {
    // SAFETY: geteuid has no preconditions and cannot fail.
    unsafe { libc::geteuid() == 0 }
}

/// PostgreSQL refuses to run as root; the tests run as root here, so its tools run as the
/// `postgres` OS user.
fn pg_command(bin: &Path, tool: &str) -> Command {
    let exe = bin.join(tool);
    if is_root() {
        let mut c = Command::new("runuser");
        c.arg("-u").arg("postgres").arg("--").arg(exe);
        c
    } else {
        Command::new(exe)
    }
}

/// Runs a command to completion off the async runtime's threads; panics with its output on
/// failure.
async fn run_checked(mut cmd: Command, what: &str) {
    let what = what.to_string();
    let out = tokio::task::spawn_blocking(move || cmd.output())
        .await
        .expect("join")
        .unwrap_or_else(|e| panic!("{what}: cannot run: {e}"));
    assert!(
        out.status.success(),
        "{what} failed ({}):\n{}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// `redis-server` on a free port with AOF fsynced on every write, so that a stop and a start
/// on the same directory replay the queue exactly.
pub struct PrivateRedis {
    pub port: u16,
    dir: TempDir,
    child: Option<Child>,
    /// Arguments after the common ones (a cluster node's).
    extra: Vec<String>,
}

impl PrivateRedis {
    pub async fn start_new() -> Self {
        Self::start_new_with(Vec::new()).await
    }

    async fn start_new_with(extra: Vec<String>) -> Self {
        let mut redis = Self {
            port: free_port(),
            dir: tempfile::tempdir().expect("redis temp dir"),
            child: None,
            extra,
        };
        redis.start().await;
        redis
    }

    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    /// Starts the server (again) on the same port and directory; returns once it answers PING,
    /// which it does only after replaying the AOF.
    pub async fn start(&mut self) {
        assert!(self.child.is_none(), "redis is already running");
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.dir.path().join("redis.log"))
            .expect("redis log");
        let child = Command::new("redis-server")
            .args(["--bind", "127.0.0.1", "--port"])
            .arg(self.port.to_string())
            .args([
                "--appendonly",
                "yes",
                "--appendfsync",
                "always",
                "--save",
                "",
            ])
            .args(&self.extra)
            .arg("--dir")
            .arg(self.dir.path())
            .stdout(log.try_clone().expect("log"))
            .stderr(log)
            .spawn()
            .expect("start redis-server");
        self.child = Some(child);
        let url = self.url();
        eventually(
            "the private Redis answers PING",
            Duration::from_secs(30),
            || {
                let url = url.clone();
                async move {
                    let Ok(client) = redis::Client::open(url) else {
                        return false;
                    };
                    let Ok(mut c) = client.get_multiplexed_async_connection().await else {
                        return false;
                    };
                    // LOADING while the AOF replays.
                    redis::cmd("PING")
                        .query_async::<String>(&mut c)
                        .await
                        .is_ok()
                }
            },
        )
        .await;
    }

    /// SIGTERM (Redis then flushes the AOF and exits cleanly) and waits for the exit.
    pub async fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            signal(&child, libc::SIGTERM);
            wait_exit(&mut child, "redis-server", Duration::from_secs(30)).await;
        }
    }

    /// SIGKILL: no shutdown of any kind; what survives is what the AOF had fsynced.
    pub async fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            signal(&child, libc::SIGKILL);
            wait_exit(&mut child, "redis-server", Duration::from_secs(30)).await;
        }
    }

    /// A plain connection to this server alone (no cluster redirections followed).
    pub async fn connection(&self) -> Option<redis::aio::MultiplexedConnection> {
        let client = redis::Client::open(self.url()).ok()?;
        client.get_multiplexed_async_connection().await.ok()
    }
}

/// A Redis Cluster of three masters without replicas, each a `PrivateRedis` with AOF fsynced
/// on every write and its cluster bus on a port of its own.
pub struct RedisCluster {
    pub nodes: Vec<PrivateRedis>,
}

impl RedisCluster {
    pub async fn start_new() -> Self {
        let node = || {
            PrivateRedis::start_new_with(
                [
                    "--cluster-enabled",
                    "yes",
                    "--cluster-config-file",
                    "nodes.conf",
                    "--cluster-port",
                    &free_port().to_string(),
                ]
                .map(String::from)
                .to_vec(),
            )
        };
        let (a, b, c) = tokio::join!(node(), node(), node());
        let cluster = Self {
            nodes: vec![a, b, c],
        };
        let mut create = Command::new("redis-cli");
        create.arg("--cluster").arg("create");
        for n in &cluster.nodes {
            create.arg(format!("127.0.0.1:{}", n.port));
        }
        create.args(["--cluster-replicas", "0", "--cluster-yes"]);
        run_checked(create, "redis-cli --cluster create").await;
        cluster.await_ok().await;
        cluster
    }

    /// `redis+cluster://` with every node as a seed.
    pub fn url(&self) -> String {
        let hosts: Vec<String> = self
            .nodes
            .iter()
            .map(|n| format!("127.0.0.1:{}", n.port))
            .collect();
        format!("redis+cluster://{}", hosts.join(","))
    }

    /// Waits until every node says `cluster_state:ok` (every slot served).
    pub async fn await_ok(&self) {
        for n in &self.nodes {
            eventually(
                &format!("the cluster node on {} reports cluster_state:ok", n.port),
                Duration::from_secs(60),
                || async move {
                    let Some(mut c) = n.connection().await else {
                        return false;
                    };
                    let info: String = redis::cmd("CLUSTER")
                        .arg("INFO")
                        .query_async(&mut c)
                        .await
                        .unwrap_or_default();
                    info.contains("cluster_state:ok")
                },
            )
            .await;
        }
    }

    /// The node that owns `key`'s slot: the one that answers for it instead of redirecting.
    pub async fn owner_of(&self, key: &str) -> usize {
        for (i, n) in self.nodes.iter().enumerate() {
            let mut c = n.connection().await.expect("a cluster node");
            let answer = redis::cmd("EXISTS")
                .arg(key)
                .query_async::<i64>(&mut c)
                .await;
            if answer.is_ok() {
                return i;
            }
        }
        panic!("no node serves {key}");
    }
}

impl Drop for PrivateRedis {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// A throwaway PostgreSQL cluster: `initdb` into a temporary directory, trust authentication
/// for `postgres`, on a free port. `fsync=off`: the cluster is thrown away after the test, and
/// a stop here is always a clean `pg_ctl stop`, never a power cut, so durability on disk is not
/// what is under test (a committed transaction still survives a fast shutdown).
pub struct PrivatePostgres {
    pub port: u16,
    bin: PathBuf,
    dir: TempDir,
    running: bool,
}

/// The newest `/usr/lib/postgresql/<version>/bin` holding `pg_ctl`.
fn postgres_bin() -> PathBuf {
    let mut found: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .expect("PostgreSQL's binaries must be under /usr/lib/postgresql/*/bin")
        .flatten()
        .filter_map(|e| {
            let version = e.file_name().to_string_lossy().parse::<u32>().ok()?;
            let bin = e.path().join("bin");
            bin.join("pg_ctl").exists().then_some((version, bin))
        })
        .collect();
    found.sort();
    found.pop().expect("no /usr/lib/postgresql/*/bin/pg_ctl").1
}

impl PrivatePostgres {
    pub async fn start_new() -> Self {
        Self::start_new_at_xid(None).await
    }

    /// A new cluster whose transaction counter starts at `next_xid` (via `pg_resetwal -x`):
    /// a server "older" than a fresh one, to move a database between. `next_xid` must be a
    /// multiple of 1,048,576 (a commit-log segment boundary, as pg_resetwal's manual asks).
    pub async fn start_new_at_xid(next_xid: Option<u64>) -> Self {
        let dir = tempfile::tempdir().expect("postgres temp dir");
        if is_root() {
            let mut chown = Command::new("chown");
            chown.arg("-R").arg("postgres").arg(dir.path());
            run_checked(chown, "chown the cluster's directory to postgres").await;
        }
        let bin = postgres_bin();
        let mut initdb = pg_command(&bin, "initdb");
        initdb.arg("-D").arg(dir.path().join("data")).args([
            "-U",
            "postgres",
            "--auth=trust",
            "-E",
            "UTF8",
            "--no-sync",
        ]);
        run_checked(initdb, "initdb").await;
        if let Some(xid) = next_xid {
            assert_eq!(xid % 1_048_576, 0, "next_xid on a segment boundary");
            let mut reset = pg_command(&bin, "pg_resetwal");
            reset
                .arg("-x")
                .arg(xid.to_string())
                .arg("-D")
                .arg(dir.path().join("data"));
            run_checked(reset, "pg_resetwal -x").await;
        }
        let mut pg = Self {
            port: free_port(),
            bin,
            dir,
            running: false,
        };
        pg.start().await;
        pg
    }

    /// A streaming hot standby of `primary` (`pg_basebackup -R`: a copy of its data directory
    /// that replays its WAL as it is written) on a port of its own; returns once it accepts
    /// connections. `--checkpoint=fast`: the backup starts at once instead of waiting for a
    /// spread checkpoint (minutes). The primary runs with initdb's defaults, which stream already
    /// (`wal_level=replica`, `max_wal_senders=10`, replication trusted on 127.0.0.1).
    pub async fn start_standby_of(primary: &PrivatePostgres) -> Self {
        let dir = tempfile::tempdir().expect("standby temp dir");
        if is_root() {
            let mut chown = Command::new("chown");
            chown.arg("-R").arg("postgres").arg(dir.path());
            run_checked(chown, "chown the standby's directory to postgres").await;
        }
        let mut backup = pg_command(&primary.bin, "pg_basebackup");
        backup
            .args(["-h", "127.0.0.1", "-U", "postgres", "-p"])
            .arg(primary.port.to_string())
            .arg("-D")
            .arg(dir.path().join("data"))
            .args(["-R", "-X", "stream", "--checkpoint=fast", "--no-sync"]);
        run_checked(backup, "pg_basebackup").await;
        let mut pg = Self {
            port: free_port(),
            bin: primary.bin.clone(),
            dir,
            running: false,
        };
        pg.start().await;
        pg
    }

    /// `pg_ctl stop -m immediate`: the server quits at once, dropping every connection, as
    /// when its machine goes away.
    pub async fn stop_immediate(&mut self) {
        let mut cmd = pg_command(&self.bin, "pg_ctl");
        cmd.arg("-D").arg(self.dir.path().join("data")).args([
            "-m",
            "immediate",
            "-w",
            "-t",
            "60",
            "stop",
        ]);
        run_checked(cmd, "pg_ctl stop -m immediate").await;
        self.running = false;
    }

    /// `postgres://postgres@127.0.0.1:<port>/<database>`.
    pub fn url(&self, database: &str) -> String {
        format!("postgres://postgres@127.0.0.1:{}/{database}", self.port)
    }

    /// Starts the cluster (again) on the same port; returns once it accepts connections.
    pub async fn start(&mut self) {
        let mut cmd = pg_command(&self.bin, "pg_ctl");
        cmd.arg("-D")
            .arg(self.dir.path().join("data"))
            .arg("-l")
            .arg(self.dir.path().join("postgres.log"))
            .arg("-o")
            .arg(format!(
                "-k {} -c listen_addresses=127.0.0.1 -p {} -c fsync=off",
                self.dir.path().display(),
                self.port
            ))
            .args(["-w", "-t", "60", "start"]);
        run_checked(cmd, "pg_ctl start").await;
        self.running = true;
    }

    /// `pg_dump -Fc` of `database` into a file in the cluster's directory.
    pub async fn dump(&self, database: &str) -> PathBuf {
        let file = self.dir.path().join(format!("{database}.dump"));
        let mut cmd = pg_command(&self.bin, "pg_dump");
        cmd.args(["-Fc", "-h", "127.0.0.1", "-U", "postgres", "-p"])
            .arg(self.port.to_string())
            .arg("-f")
            .arg(&file)
            .arg(database);
        run_checked(cmd, "pg_dump").await;
        file
    }

    /// `pg_restore --create`-free restore of `dump` into a new database `database` here.
    pub async fn restore(&self, dump: &Path, database: &str) {
        let mut create = pg_command(&self.bin, "createdb");
        create
            .args(["-h", "127.0.0.1", "-U", "postgres", "-p"])
            .arg(self.port.to_string())
            .arg(database);
        run_checked(create, "createdb").await;
        let mut restore = pg_command(&self.bin, "pg_restore");
        restore
            .args(["--exit-on-error", "-h", "127.0.0.1", "-U", "postgres", "-p"])
            .arg(self.port.to_string())
            .arg("-d")
            .arg(database)
            .arg(dump);
        run_checked(restore, "pg_restore").await;
    }

    /// A plain client on `database`.
    pub async fn sql(&self, database: &str) -> tokio_postgres::Client {
        let (client, conn) = tokio_postgres::connect(&self.url(database), tokio_postgres::NoTls)
            .await
            .expect("connect to the private cluster");
        tokio::spawn(conn);
        client
    }

    /// `pg_ctl stop -m fast`: running transactions are rolled back, clients disconnected.
    pub async fn stop(&mut self) {
        let mut cmd = pg_command(&self.bin, "pg_ctl");
        cmd.arg("-D")
            .arg(self.dir.path().join("data"))
            .args(["-m", "fast", "-w", "-t", "60", "stop"]);
        run_checked(cmd, "pg_ctl stop").await;
        self.running = false;
    }
}

impl Drop for PrivatePostgres {
    fn drop(&mut self) {
        if self.running {
            let _ = pg_command(&self.bin, "pg_ctl")
                .arg("-D")
                .arg(self.dir.path().join("data"))
                .args(["-m", "immediate", "-w", "stop"])
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status();
        }
    }
}

pub fn signal(child: &Child, sig: libc::c_int) {
    // SAFETY: kill(2) with a pid we spawned and have not reaped yet.
    unsafe {
        libc::kill(child.id() as libc::pid_t, sig);
    }
}

async fn wait_exit(child: &mut Child, what: &str, limit: Duration) -> ExitStatus {
    let deadline = Instant::now() + limit;
    loop {
        if let Some(status) = child.try_wait().expect("try_wait") {
            return status;
        }
        assert!(
            Instant::now() < deadline,
            "{what} did not exit within {limit:?}"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// A `roompulse` child process; its stdout and stderr go to a log file, whose end is printed
/// when a test fails while the process is around (the whole log always with
/// `FAULTS_SHOW_LOGS=1`). Killed when dropped.
pub struct Roompulse {
    pub name: String,
    child: Child,
    log: PathBuf,
    exited: Option<ExitStatus>,
}

impl Roompulse {
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    pub fn signal(&self, sig: libc::c_int) {
        if self.exited.is_none() {
            signal(&self.child, sig);
        }
    }

    /// SIGKILL: no clean-up of any kind, as when the machine or the OOM killer takes it.
    pub async fn kill(&mut self) {
        self.signal(libc::SIGKILL);
        self.wait(Duration::from_secs(30)).await;
    }

    /// Waits for the process to exit; `limit` is a deadlock guard.
    pub async fn wait(&mut self, limit: Duration) -> ExitStatus {
        if let Some(status) = self.exited {
            return status;
        }
        let deadline = Instant::now() + limit;
        loop {
            if let Some(status) = self.child.try_wait().expect("try_wait") {
                self.exited = Some(status);
                return status;
            }
            assert!(
                Instant::now() < deadline,
                "{} did not exit within {limit:?}; its log ends:\n{}",
                self.name,
                self.log_tail(40)
            );
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }

    /// Waits for a successful exit.
    /// SIGTERM, then the process must exit 0 within `limit` (a deadlock guard).
    pub async fn terminate(&mut self, limit: Duration) {
        self.signal(libc::SIGTERM);
        self.succeeds(limit).await;
    }

    pub async fn succeeds(&mut self, limit: Duration) {
        let status = self.wait(limit).await;
        assert!(
            status.success(),
            "{} failed ({status}); its log ends:\n{}",
            self.name,
            self.log_tail(40)
        );
    }

    pub fn has_exited(&mut self) -> bool {
        if self.exited.is_none() {
            self.exited = self.child.try_wait().expect("try_wait");
        }
        self.exited.is_some()
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    pub fn log_tail(&self, lines: usize) -> String {
        let log = self.log();
        let all: Vec<&str> = log.lines().collect();
        all[all.len().saturating_sub(lines)..].join("\n")
    }
}

impl Drop for Roompulse {
    fn drop(&mut self) {
        if self.exited.is_none() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
        if std::thread::panicking() {
            eprintln!(
                "--- {} (pid {}) log, last lines ---\n{}",
                self.name,
                self.child.id(),
                self.log_tail(30)
            );
        } else if std::env::var_os("FAULTS_SHOW_LOGS").is_some() {
            eprintln!(
                "--- {} (pid {}) log ---\n{}",
                self.name,
                self.child.id(),
                self.log()
            );
        }
    }
}

/// The stack's Redis: one server, or a cluster.
pub enum Redis {
    Single(PrivateRedis),
    Cluster(RedisCluster),
}

impl Redis {
    pub fn url(&self) -> String {
        match self {
            Redis::Single(r) => r.url(),
            Redis::Cluster(c) => c.url(),
        }
    }

    /// The one server of a stack started with one.
    pub fn single(&mut self) -> &mut PrivateRedis {
        match self {
            Redis::Single(r) => r,
            Redis::Cluster(_) => panic!("this stack runs a Redis Cluster"),
        }
    }

    /// The cluster of a stack started with one.
    pub fn cluster(&mut self) -> &mut RedisCluster {
        match self {
            Redis::Cluster(c) => c,
            Redis::Single(_) => panic!("this stack runs one Redis"),
        }
    }
}

/// A private PostgreSQL (both modules' databases) and Redis, a working directory, and the
/// environment every `roompulse` child gets.
pub struct Stack {
    pub pg: PrivatePostgres,
    pub redis: Redis,
    pub dir: TempDir,
    env: BTreeMap<String, String>,
    spawned: usize,
}

impl Stack {
    pub async fn start() -> Self {
        let (pg, redis) = tokio::join!(PrivatePostgres::start_new(), PrivateRedis::start_new());
        Self::start_on(pg, Redis::Single(redis)).await
    }

    /// The same with a three-master Redis Cluster for the queue.
    pub async fn start_clustered() -> Self {
        let (pg, cluster) = tokio::join!(PrivatePostgres::start_new(), RedisCluster::start_new());
        Self::start_on(pg, Redis::Cluster(cluster)).await
    }

    async fn start_on(pg: PrivatePostgres, redis: Redis) -> Self {
        let mut env = BTreeMap::new();
        for (k, v) in [
            (
                "DATA_PROVIDER_DATABASE_URL",
                pg.url("roompulse_data_provider"),
            ),
            ("DASHBOARD_DATABASE_URL", pg.url("roompulse_dashboard")),
            ("REDIS_URL", redis.url()),
            ("EVENTS_QUEUE_KEY", QUEUE_KEY.to_string()),
            // A SIGKILLed worker's batch goes back to the queue 2 s after its last heartbeat.
            ("WORKER_LEASE_SECS", "2".to_string()),
            ("WORKER_BATCH_SIZE", "5000".to_string()),
            ("DASHBOARD_CACHE_MS", "0".to_string()),
            ("DASHBOARD_SYNC_SCHEDULE", "*/1 * * * * *".to_string()),
            ("DATABASE_POOL_SIZE", "4".to_string()),
            ("RUST_LOG", "info,tower_http=warn".to_string()),
        ] {
            env.insert(k.to_string(), v);
        }
        let stack = Self {
            pg,
            redis,
            dir: tempfile::tempdir().expect("work dir"),
            env,
            spawned: 0,
        };
        stack
            .run("migrate", &["migrate"], &[])
            .succeeds(Duration::from_secs(120))
            .await;
        stack
    }

    /// Starts `roompulse <args>` with the stack's environment plus `extra`. The working
    /// directory is the stack's own, so no `.env` file from elsewhere is read.
    pub fn run(&self, name: &str, args: &[&str], extra: &[(&str, String)]) -> Roompulse {
        let log = self.dir.path().join(format!("{name}.log"));
        let file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&log)
            .expect("process log");
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_roompulse"));
        cmd.args(args)
            .current_dir(self.dir.path())
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .envs(&self.env)
            .stdin(Stdio::null())
            .stdout(file.try_clone().expect("log"))
            .stderr(file);
        for (k, v) in extra {
            cmd.env(k, v);
        }
        let child = cmd.spawn().expect("start roompulse");
        Roompulse {
            name: name.to_string(),
            child,
            log,
            exited: None,
        }
    }

    /// `roompulse worker --workers <n>`.
    pub fn worker(&mut self, workers: usize) -> Roompulse {
        self.spawned += 1;
        let name = format!("worker-{}", self.spawned);
        self.run(&name, &["worker", "--workers", &workers.to_string()], &[])
    }

    /// `roompulse load-events <csv>`.
    pub fn load(&mut self, csv: &Path) -> Roompulse {
        self.spawned += 1;
        let name = format!("load-events-{}", self.spawned);
        let rejects = self.dir.path().join(format!("{name}.rejects.csv"));
        self.run(
            &name,
            &[
                "load-events",
                &csv.to_string_lossy(),
                "--rejects",
                &rejects.to_string_lossy(),
            ],
            &[],
        )
    }

    /// Writes the generated export of `rows` rows from `seed`.
    pub fn write_csv(&self, rows: u64, seed: u64) -> PathBuf {
        write_export(self.dir.path(), rows, seed, 0)
    }

    pub fn queue(&self) -> Queue {
        Queue::new(&self.redis.url(), QueueKeys::new(QUEUE_KEY), 2).expect("queue")
    }

    /// The queue's backlog and dead letters; `None` while Redis does not answer.
    pub async fn backlog(&self) -> Option<(Backlog, i64)> {
        let q = self.queue();
        let backlog = q.backlog().await.ok()?;
        let dead = q.dead_depth().await.ok()?;
        Some((backlog, dead))
    }

    /// The ids of the messages waiting in the queue (not those held by workers).
    pub async fn queued_ids(&self) -> Vec<i64> {
        queued(&self.redis.url(), QUEUE_KEY)
            .await
            .iter()
            .map(|m| {
                roompulse::data_provider::worker::parse_message(m.as_bytes())
                    .expect("a queued message is an event")
                    .id
            })
            .collect()
    }

    async fn sql(&self, database: &str) -> Option<tokio_postgres::Client> {
        let (client, conn) = tokio_postgres::connect(&self.pg.url(database), tokio_postgres::NoTls)
            .await
            .ok()?;
        tokio::spawn(conn);
        Some(client)
    }

    /// `(count(*), count(DISTINCT id))` of the events table; `None` while PostgreSQL is down.
    pub async fn stored(&self) -> Option<(i64, i64)> {
        let c = self.sql("roompulse_data_provider").await?;
        let row = c
            .query_one("SELECT count(*), count(DISTINCT id) FROM events", &[])
            .await
            .ok()?;
        Some((row.get(0), row.get(1)))
    }

    pub async fn stored_ids(&self) -> HashSet<i64> {
        let c = self
            .sql("roompulse_data_provider")
            .await
            .expect("events db");
        c.query("SELECT id FROM events", &[])
            .await
            .expect("ids")
            .iter()
            .map(|r| r.get(0))
            .collect()
    }

    /// The dashboard's `sync_state.events_synced`.
    pub async fn events_synced(&self) -> Option<i64> {
        let c = self.sql("roompulse_dashboard").await?;
        let row = c
            .query_one("SELECT events_synced FROM sync_state", &[])
            .await
            .ok()?;
        Some(row.get(0))
    }

    /// Every row of `dashboard_pace`, zero rows left out.
    pub async fn dashboard_pace(&self) -> PaceTable {
        let c = self.sql("roompulse_dashboard").await.expect("dashboard db");
        c.query(
            "SELECT hotel_id, night, event_day, bookings, cancellations FROM dashboard_pace \
             WHERE bookings <> 0 OR cancellations <> 0",
            &[],
        )
        .await
        .expect("dashboard_pace")
        .iter()
        .map(|r| ((r.get(0), r.get(1), r.get(2)), (r.get(3), r.get(4))))
        .collect()
    }

    /// Every row of `dashboard_daily`, zero rows left out.
    pub async fn dashboard_daily(&self) -> Days {
        let c = self.sql("roompulse_dashboard").await.expect("dashboard db");
        c.query(
            "SELECT hotel_id, basis, day, bookings, cancellations FROM dashboard_daily \
             WHERE bookings <> 0 OR cancellations <> 0",
            &[],
        )
        .await
        .expect("dashboard_daily")
        .iter()
        .map(|r| ((r.get(0), r.get(1), r.get(2)), (r.get(3), r.get(4))))
        .collect()
    }
}
