//! What the benchmark programs share: the corpora picked, the runs per
//! figure, the median, and the isolate's CPU time per request.

use std::time::Duration;

use super::archives::FileSpec;
use super::corpus::{generated_marketplace, Corpus, CORPORA};
use super::toolchain::node_tool;

/// Runs per figure: `BENCH_RUNS`, else `default`.
pub fn runs(default: usize) -> usize {
    std::env::var("BENCH_RUNS")
        .ok()
        .and_then(|r| r.parse().ok())
        .unwrap_or(default)
}

/// The median of `samples`, in milliseconds.
pub fn median_ms(samples: &[Duration]) -> f64 {
    let mut ms: Vec<f64> = samples.iter().map(|d| d.as_secs_f64() * 1e3).collect();
    ms.sort_by(|a, b| a.partial_cmp(b).unwrap());
    ms[ms.len() / 2]
}

/// The corpora `BENCH_CORPORA` picks (a comma list of small, medium and
/// large; all by default), each generated when reached, with its files
/// and the label its rows carry.
pub fn picked_corpora() -> impl Iterator<Item = (&'static Corpus, Vec<FileSpec>, String)> {
    let picked: Vec<String> = std::env::var("BENCH_CORPORA")
        .unwrap_or_else(|_| "small,medium,large".into())
        .split(',')
        .map(str::to_owned)
        .collect();
    CORPORA
        .iter()
        .filter(move |c| picked.iter().any(|p| p == c.name))
        .map(|c| {
            let files = generated_marketplace(c);
            let bytes: usize = files.iter().map(|f| f.2.len()).sum();
            let label = format!(
                "{}: {} files, {:.0} MB",
                c.name,
                files.len(),
                bytes as f64 / 1e6
            );
            (c, files, label)
        })
}

/// The Worker isolate's busy (CPU) time per run of shell `command`, in
/// milliseconds, from a CPU profile through its inspector
/// (`scripts/profile.mjs --json`); `before` runs outside the profile
/// before each run. `None` (with the reason printed) when profiling failed.
pub fn cpu_ms(inspector: u16, runs: usize, before: &str, command: &str) -> Option<f64> {
    let root = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let out = node_tool("node")
        .arg(root.join("scripts/profile.mjs"))
        .args(["--inspector", &inspector.to_string()])
        .args([
            "--runs",
            &runs.to_string(),
            "--before",
            before,
            "--json",
            "--",
        ])
        .arg(command)
        .current_dir(&root)
        .output()
        .expect("run node scripts/profile.mjs");
    let text = String::from_utf8_lossy(&out.stdout);
    let parsed = text
        .lines()
        .rev()
        .find_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .and_then(|v| v["busy_ms"].as_f64());
    if parsed.is_none() {
        eprintln!(
            "  (profiling `{command}` failed: {}{})",
            text.trim(),
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    parsed
}

/// `workerd`'s own CPU time (user and system, every thread, from `/proc`:
/// the isolate and the local D1 and R2 beside it) per run of shell
/// `command`, in milliseconds, with `before` run outside the measure
/// before each run. Work a response leaves to finish after it counts
/// (each measure ends once the server has been idle 300 ms). Commands
/// without `before` are measured back to back, so the clock's 10 ms ticks
/// spread over all runs; `runs` of them are taken.
pub fn workerd_cpu_ms(
    w: &super::wrangler::Wrangler,
    runs: usize,
    before: &str,
    command: &str,
) -> f64 {
    let sh = |script: &str| {
        if !script.is_empty() {
            let _ = std::process::Command::new("sh")
                .args(["-c", script])
                .status();
        }
    };
    let settle = || std::thread::sleep(Duration::from_millis(300));
    let runs = runs.max(1);
    let mut total = 0.0;
    if before.is_empty() {
        settle();
        let start = w.workerd_cpu_ms();
        for _ in 0..runs {
            sh(command);
        }
        settle();
        total = w.workerd_cpu_ms() - start;
    } else {
        for _ in 0..runs {
            sh(before);
            settle();
            let start = w.workerd_cpu_ms();
            sh(command);
            settle();
            total += w.workerd_cpu_ms() - start;
        }
    }
    total / runs as f64
}

/// What an empty request (`GET /healthz`, no storage) costs `workerd`, in
/// ms of its CPU (see `workerd_cpu_ms`): the floor under every row.
pub fn empty_request_cpu_ms() -> f64 {
    let w = super::wrangler::wrangler();
    let command = format!("curl -sf -o /dev/null {}/healthz", w.base);
    workerd_cpu_ms(w, 50, "", &command)
}

/// Prints one row of a CPU table: `what` per run of shell `command`
/// (`before` outside the measure), as the isolate's profile has it (busy
/// time, `runs` profiled) and as `workerd`'s own clock does (`proc_runs`
/// runs), and that less an empty request's `empty_ms`.
pub fn cpu_row(
    label: &str,
    what: &str,
    (before, command): (&str, &str),
    (runs, proc_runs): (usize, usize),
    empty_ms: f64,
) {
    let w = super::wrangler::wrangler();
    let profiled = cpu_ms(w.inspector, runs, before, command)
        .map_or_else(|| "(failed)".to_string(), |ms| format!("{ms:.1} ms"));
    let own = workerd_cpu_ms(w, proc_runs, before, command);
    println!(
        "{label:<28} CPU {what:<26} profile {profiled:>10}   workerd {own:>7.1} ms, {:>7.1} ms above an empty request",
        own - empty_ms
    );
}
