//! Starts the compiled Worker under `wrangler dev` (real workerd, local D1
//! and R2 in a fresh state directory) once per test binary.
//!
//! The server runs in its own process group behind a shell that waits on
//! our stdin; when the test process exits, the pipe closes and the shell
//! kills the whole group, so no workerd outlives the tests.

use std::io::Read;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

use super::git_cli::TempDir;
use super::toolchain::node_tool;

/// A running `wrangler dev`.
pub struct Wrangler {
    pub base: String,
    pub log: PathBuf,
    /// Its isolate's inspector (`scripts/profile.mjs` profiles it there).
    pub inspector: u16,
    _state: TempDir,
    _guard: Mutex<(Child, ChildStdin)>,
    _log_on_panic: LogOnPanic,
}

impl Wrangler {
    /// How many objects local R2 holds (one file each in the bucket's blobs
    /// folder of the state directory).
    pub fn r2_object_count(&self) -> usize {
        std::fs::read_dir(self._state.path().join("v3/r2/marketplace-edge/blobs"))
            .map(|d| d.count())
            .unwrap_or(0)
    }

    /// Runs SQL against the server's local D1 (as `wrangler d1 execute`
    /// does, beside the running server); the rows of its result.
    pub fn d1(&self, sql: &str) -> Vec<serde_json::Value> {
        let out = node_tool(repo_root().join("node_modules/.bin/wrangler"))
            .args(["d1", "execute", "DB", "--local", "--json", "--persist-to"])
            .arg(self._state.path())
            .args(["--command", sql])
            .current_dir(repo_root())
            .output()
            .expect("run wrangler d1 execute");
        assert!(
            out.status.success(),
            "wrangler d1 execute {sql:?}: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
            panic!(
                "d1 output is not JSON ({e}): {}",
                String::from_utf8_lossy(&out.stdout)
            )
        });
        v[0]["results"].as_array().cloned().unwrap_or_default()
    }
}

/// A failing test shows what wrangler dev said last (its reloads, runtime
/// errors and request lines), since CI keeps only the test's output.
struct LogOnPanic(PathBuf);

impl Drop for LogOnPanic {
    fn drop(&mut self) {
        if std::thread::panicking() {
            print_log_tail(&self.0);
        }
    }
}

/// Prints to stderr every failure the Worker logged (each names its
/// request id and cause) and the last 80 lines of a server's log.
fn print_log_tail(log: &std::path::Path) {
    let text = std::fs::read_to_string(log).unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    let failures: Vec<&str> = lines
        .iter()
        .copied()
        .filter(|l| l.contains("\"detail\""))
        .collect();
    let tail = &lines[lines.len().saturating_sub(80)..];
    eprintln!(
        "--- failures the Worker logged ---\n{}\n--- last {} lines of {} ---\n{}\n---",
        failures.join("\n"),
        tail.len(),
        log.display(),
        tail.join("\n")
    );
}

fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Whether `/healthz` answers 200 (never panics: the Worker may be
/// reloading).
fn healthy(port: u16) -> bool {
    use std::io::Write;
    let Ok(mut s) = std::net::TcpStream::connect(("127.0.0.1", port)) else {
        return false;
    };
    let _ = s.set_read_timeout(Some(Duration::from_secs(10)));
    let req =
        format!("GET /healthz HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\n\r\n");
    if s.write_all(req.as_bytes()).is_err() {
        return false;
    }
    let mut head = [0u8; 12];
    s.read_exact(&mut head).is_ok() && head.starts_with(b"HTTP/1.1 200")
}

/// Two distinct free ports (both held while chosen, so never the same).
fn free_ports() -> (u16, u16) {
    let a = TcpListener::bind("127.0.0.1:0").unwrap();
    let b = TcpListener::bind("127.0.0.1:0").unwrap();
    (
        a.local_addr().unwrap().port(),
        b.local_addr().unwrap().port(),
    )
}

fn require(path: &Path, advice: &str) {
    assert!(path.exists(), "{} is missing: {advice}", path.display());
}

/// The shared server, started on first use.
pub fn wrangler() -> &'static Wrangler {
    static W: OnceLock<Wrangler> = OnceLock::new();
    W.get_or_init(|| {
        let w = start(TempDir::new("wrangler-state"), &[]);
        serve_uploads_at_once(&w);
        // The shared server lives until the process ends, so its
        // `LogOnPanic` never runs: a panicking test prints the tail of
        // its log here instead (the Worker's log names a 500's cause).
        let log = w.log.clone();
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            previous(info);
            print_log_tail(&log);
        }));
        w
    })
}

/// A server of its own with `vars` (name, value) over wrangler.toml's,
/// stopped when dropped; Store uploads are served at once (review off)
/// unless `vars` change the admin's authentication.
pub fn wrangler_with(vars: &[(&str, &str)]) -> Wrangler {
    let w = start(TempDir::new("wrangler-state"), vars);
    // Servers that change how the admin authenticates (the security
    // tests' own ADMIN_TOKEN or LOCAL_DEV) keep the default: the
    // development admin token that sets the mode is refused there.
    if !vars
        .iter()
        .any(|(k, _)| *k == "ADMIN_TOKEN" || *k == "LOCAL_DEV")
    {
        serve_uploads_at_once(&w);
    }
    w
}

/// A server of its own whose Store review mode is the deployment default,
/// for the tests of review.
pub fn wrangler_reviewing() -> Wrangler {
    start(TempDir::new("wrangler-state"), &[])
}

/// Turns Store review off, so tests of other things can install what
/// they publish (review is tested on `wrangler_reviewing` servers).
fn serve_uploads_at_once(w: &Wrangler) {
    let r = super::http_client::request(
        &w.base,
        "PUT",
        "/api/admin/settings/store-review",
        &[
            ("Authorization", "Bearer dev-admin-token"),
            ("Content-Type", "application/json"),
        ],
        br#"{"mode":"off"}"#,
    );
    assert_eq!(r.status, 200, "setting the review mode: {}", r.text());
}

impl Wrangler {
    /// The id of the server's process group (its shell wrote it beside the
    /// log).
    fn process_group(&self) -> u32 {
        let pid = std::fs::read_to_string(self.log.with_extension("pid"))
            .expect("the server's process group id");
        pid.trim().parse().expect("a numeric process group id")
    }

    /// The CPU time (user and system, every thread) the server's `workerd`
    /// processes have used so far, in ms, from `/proc`: the isolate and the
    /// local D1 and R2 it runs beside, not wrangler's own Node process.
    pub fn workerd_cpu_ms(&self) -> f64 {
        let group = self.process_group().to_string();
        let ticks_per_s: f64 = Command::new("getconf")
            .arg("CLK_TCK")
            .output()
            .ok()
            .and_then(|o| String::from_utf8_lossy(&o.stdout).trim().parse().ok())
            .unwrap_or(100.0);
        let mut ticks = 0u64;
        for entry in std::fs::read_dir("/proc").expect("/proc").flatten() {
            let Ok(stat) = std::fs::read_to_string(entry.path().join("stat")) else {
                continue;
            };
            // `pid (comm) state ppid pgrp … utime stime` (fields 14 and 15);
            // comm may hold spaces, so fields count from its closing paren.
            let Some((head, rest)) = stat.rsplit_once(')') else {
                continue;
            };
            let fields: Vec<&str> = rest.split_whitespace().collect();
            let workerd = head.ends_with("(workerd");
            if workerd && fields.get(2) == Some(&group.as_str()) {
                ticks +=
                    fields[11].parse::<u64>().unwrap_or(0) + fields[12].parse::<u64>().unwrap_or(0);
            }
        }
        ticks as f64 * 1000.0 / ticks_per_s
    }

    /// Kills the server with SIGKILL, as a crash would (no shutdown, no
    /// `waitUntil` finished), and starts it again on the same local D1 and
    /// R2 state with `vars`; the new server (on a new port).
    pub fn crash_and_restart(self, vars: &[(&str, &str)]) -> Wrangler {
        let pid = self.process_group();
        // The shell's own `kill`, as the teardown uses it: procps' binary
        // does not take `-<pid>` as a process group.
        let killed = Command::new("sh")
            .arg("-c")
            .arg(format!("kill -KILL -{pid}"))
            .status()
            .expect("run kill");
        assert!(killed.success(), "kill -KILL -{pid} failed");
        let Wrangler { _state, _guard, .. } = self;
        drop(_guard);
        start(_state, vars)
    }

    /// The Worker's request log lines (one JSON object per response).
    fn request_lines(&self) -> Vec<serde_json::Value> {
        std::fs::read_to_string(&self.log)
            .unwrap_or_default()
            .lines()
            .filter(|l| l.starts_with("{\"request_id\""))
            .filter_map(|l| serde_json::from_str(l).ok())
            .collect()
    }

    /// How many responses the Worker itself logged with `status` (not
    /// wrangler dev's proxy, whose own answers the Worker never sees).
    pub fn responses_with_status(&self, status: u16) -> usize {
        self.request_lines()
            .iter()
            .filter(|v| v["status"] == status)
            .count()
    }

    /// The most WebAssembly memory any request's log line reports, up to
    /// and including request `request_id` (waiting up to 10 s for its
    /// line: the Worker logs the isolate's memory with every response).
    pub fn peak_wasm_memory_through(&self, request_id: &str) -> u64 {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let lines = self.request_lines();
            if let Some(at) = lines.iter().position(|v| v["request_id"] == request_id) {
                return lines[..=at]
                    .iter()
                    .filter_map(|v| v["wasm_memory"].as_u64())
                    .max()
                    .expect("the Worker's log lines report wasm_memory");
            }
            assert!(
                Instant::now() < deadline,
                "no log line for request {request_id}"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// Waits (up to two minutes) until `/healthz` answers three times in a
    /// row: wrangler dev's local runtime, after very large request bodies,
    /// has been seen to hold a request for a minute and then reload.
    pub fn wait_until_settled(&self) {
        let port: u16 = self
            .base
            .rsplit(':')
            .next()
            .and_then(|p| p.parse().ok())
            .expect("a port in the base URL");
        let deadline = Instant::now() + Duration::from_secs(120);
        let mut in_a_row = 0;
        while in_a_row < 3 {
            assert!(
                Instant::now() < deadline,
                "wrangler dev did not settle within two minutes"
            );
            in_a_row = if healthy(port) { in_a_row + 1 } else { 0 };
            std::thread::sleep(Duration::from_millis(500));
        }
    }

    /// Whether the server's log shows it paused at failpoint `point`.
    pub fn paused_at(&self, point: &str) -> bool {
        std::fs::read_to_string(&self.log)
            .unwrap_or_default()
            .contains(&format!("failpoint: paused at {point}"))
    }

    /// Waits (up to a minute) until the server pauses at `point`.
    pub fn wait_for_pause(&self, point: &str) {
        let deadline = Instant::now() + Duration::from_secs(60);
        while !self.paused_at(point) {
            assert!(
                Instant::now() < deadline,
                "the server never paused at {point}; its log:\n{}",
                std::fs::read_to_string(&self.log).unwrap_or_default()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

fn start(state: TempDir, vars: &[(&str, &str)]) -> Wrangler {
    start_on_free_ports(state, vars, 2)
}

/// Starts `wrangler dev` on ports picked free a moment before. Another
/// process can take such a port before workerd binds it (or re-binds it,
/// on the reload after wrangler's rebuild: the ports lie in the range the
/// kernel hands clients); then workerd dies with "Address already in use"
/// and the server is started again on new ports, up to `tries` in all.
fn start_on_free_ports(state: TempDir, vars: &[(&str, &str)], tries: u32) -> Wrangler {
    let root = repo_root();
    require(
        &root.join("node_modules/.bin/wrangler"),
        "run scripts/test.sh (or scripts/setup.sh) to install wrangler",
    );
    require(
        &root.join("build/index.js"),
        "run scripts/test.sh (or scripts/build-worker.sh) to build the Worker",
    );
    let (port, inspector) = free_ports();
    // `target/` may not exist when CARGO_TARGET_DIR points elsewhere.
    std::fs::create_dir_all(root.join("target")).expect("create target/ for wrangler logs");
    let log = root.join("target").join(format!("e2e-wrangler-{port}.log"));
    // Values are test-chosen (no quotes inside), so single quotes suffice.
    let var_args: String = vars
        .iter()
        .map(|(k, v)| format!(" --var '{k}:{v}'"))
        .collect();
    let script = format!(
        "node_modules/.bin/wrangler d1 migrations apply DB --local --persist-to '{state}' > '{log}.migrations' 2>&1 || exit 1\n\
         setsid node_modules/.bin/wrangler dev --ip 127.0.0.1 --port {port} --inspector-port {inspector} --persist-to '{state}' --show-interactive-dev-session=false --test-scheduled{var_args} > '{log}' 2>&1 &\n\
         pid=$!\n\
         echo $pid > '{pidfile}'\n\
         cat > /dev/null\n\
         kill -TERM -$pid 2>/dev/null; sleep 2; kill -KILL -$pid 2>/dev/null; wait",
        state = state.path().display(),
        log = log.display(),
        pidfile = log.with_extension("pid").display(),
        // Each instance its own inspector port: a rebuild (wrangler watches
        // src/) re-binds it, and two instances on the default 9229 collide.
        inspector = inspector,
    );
    let mut child = node_tool("sh")
        .arg("-c")
        .arg(script)
        .current_dir(&root)
        .env("MARKETPLACE_EDGE_SKIP_BUILD", "1")
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn sh for wrangler dev");
    let stdin = child.stdin.take().expect("wrangler guard stdin");
    let base = format!("http://127.0.0.1:{port}");
    let deadline = Instant::now() + Duration::from_secs(120);
    let log_text = || {
        let mut text = String::new();
        let _ = std::fs::File::open(&log).and_then(|mut f| f.read_to_string(&mut text));
        text
    };
    // wrangler runs the custom build once more when its watcher of src/
    // is ready ("The file src changed, restarting build...") and reloads
    // the Worker; a request during that reload is reset. So ready means:
    // that rebuild has been logged, and /healthz answers after it.
    let mut settled_since: Option<Instant> = None;
    loop {
        let rebuilt = log_text().contains("restarting build");
        if healthy(port) {
            let since = *settled_since.get_or_insert_with(Instant::now);
            // A watcher that never reports is given 20 s.
            if rebuilt || since.elapsed() > Duration::from_secs(20) {
                if !rebuilt {
                    break;
                }
                // Let the reload that follows the rebuild finish.
                std::thread::sleep(Duration::from_millis(500));
                if healthy(port) {
                    break;
                }
            }
        }
        if tries > 1 && log_text().contains("Address already in use") {
            // Closing the guard's stdin makes its shell stop this server.
            drop((stdin, child));
            std::thread::sleep(Duration::from_secs(3));
            return start_on_free_ports(state, vars, tries - 1);
        }
        if Instant::now() > deadline {
            panic!(
                "wrangler dev did not answer /healthz within 120 s; its log:\n{}",
                log_text()
            );
        }
        std::thread::sleep(Duration::from_millis(250));
    }
    Wrangler {
        base,
        inspector,
        _log_on_panic: LogOnPanic(log.clone()),
        log,
        _state: state,
        _guard: Mutex::new((child, stdin)),
    }
}
