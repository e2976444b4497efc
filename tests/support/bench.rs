//! What the benchmark programs share: the corpora picked, the runs per
//! figure and the median.

use std::time::Duration;

use super::archives::FileSpec;
use super::corpus::{generated_marketplace, Corpus, CORPORA};

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
