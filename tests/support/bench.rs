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
