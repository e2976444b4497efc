//! The Worker's schedules: which cron string runs which job. `wrangler.toml`
//! lists the same strings under `[triggers] crons` (a unit test holds the
//! two together), so the entry point never compares against a copy and GC
//! can never silently become a sync.

/// 03:17 UTC daily: garbage collection.
pub const GC_CRON: &str = "17 3 * * *";
/// Every 15 minutes: sync every marketplace that follows an upstream.
pub const SYNC_CRON: &str = "*/15 * * * *";

/// A scheduled job.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Job {
    Gc,
    Sync,
}

/// The job `cron` (the trigger's string, as the runtime reports it) runs;
/// `None` for a schedule this Worker does not know.
pub fn job(cron: &str) -> Option<Job> {
    match cron {
        GC_CRON => Some(Job::Gc),
        SYNC_CRON => Some(Job::Sync),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The `crons = [...]` strings of `wrangler.toml`'s `[triggers]`.
    fn configured_crons() -> Vec<String> {
        let toml = include_str!("../../wrangler.toml");
        let line = toml
            .lines()
            .find(|l| l.trim_start().starts_with("crons"))
            .expect("wrangler.toml has a crons line");
        let list = line.split_once('=').expect("crons = [...]").1;
        list.split('"')
            .skip(1)
            .step_by(2)
            .map(str::to_string)
            .collect()
    }

    #[test]
    fn every_configured_cron_runs_a_known_job_and_each_job_is_configured() {
        let crons = configured_crons();
        assert_eq!(crons.len(), 2, "{crons:?}");
        for cron in &crons {
            assert!(
                job(cron).is_some(),
                "wrangler.toml runs `{cron}`, which no job answers to"
            );
        }
        assert!(crons.iter().any(|c| job(c) == Some(Job::Gc)), "{crons:?}");
        assert!(crons.iter().any(|c| job(c) == Some(Job::Sync)), "{crons:?}");
        assert_eq!(job("0 0 * * *"), None);
    }
}
