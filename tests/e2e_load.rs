//! End to end under `wrangler dev`: a short run of the load program
//! (`examples/load.rs`, issue 10) with the same checks. 32 clients clone,
//! pull, list refs, download ZIPs and list the Store for users whose views
//! an admin changes about once a second; no request may fail (a clone
//! refused by the brake on a revoked plugin, or dropped with a 503 by
//! wrangler dev's proxy while the Worker's own log shows no 503, is run
//! again, as a client's next try would), every clone and pull passes `fsck --strict` at a commit
//! that was the user's view during it, and clones raced by a change are
//! among them.

mod support;

use std::time::Duration;

use support::wrangler::wrangler;

#[test]
fn thirty_two_clients_while_an_admin_changes_views_see_no_failure() {
    let report = support::load::run(wrangler(), 32, Duration::from_secs(10));
    println!("{}", report.table());
    assert!(
        report.failures.is_empty(),
        "{} failures:\n{}",
        report.failures.len(),
        report.failures.join("\n")
    );
    for kind in support::load::KINDS {
        assert!(
            report.samples.get(kind).is_some_and(|s| !s.is_empty()),
            "no {kind} request completed:\n{}",
            report.table()
        );
    }
    assert!(
        report.changes >= 4,
        "the admin changed views only {} times",
        report.changes
    );
    assert!(
        report.commits_cloned >= 2,
        "clones saw {} distinct views; the changes must reach them",
        report.commits_cloned
    );
}
