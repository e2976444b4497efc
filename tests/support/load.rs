//! The load program's engine (issue 10), shared by `examples/load.rs` (the
//! documented command) and `tests/e2e_load.rs` (a short run in the tests).
//!
//! `clients` threads run, for a fixed time, a mix of `git clone --depth 1`,
//! `git pull`, raw `ls-refs`, ZIP downloads and Store listings for users
//! with different views, while an admin thread changes those views about
//! once a second (it flips a grant, an opt-out and a Store install, and
//! re-imports the marketplace). Every answer is checked:
//! clones and pulls pass `fsck --strict` and sit at a commit that was the
//! user's view at some moment during the request, `ls-refs` shows such a
//! commit, a ZIP carries such a view's ETag and reads back whole, and every
//! response is a success, but one: a clone or fetch of a commit advertised
//! just before the admin revoked a plugin in it is refused (`not our ref`,
//! issue 17's brake: what was revoked is never served again), and is run
//! once more, as a client's next try would; those are counted. A 503 is
//! also run once more and counted, but only when the Worker's own log shows
//! it never answered 503: `wrangler dev`'s proxy in front of the Worker
//! drops a request that lands as it closes an idle keep-alive connection
//! and answers 503 "restarted mid-request" for it (workers-sdk#14641).
//! Nothing here judges speed; it reports it.

use std::collections::BTreeMap;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::json;

use super::api::Api;
use super::archives::{marketplace, zip_of};
use super::bench::median_ms;
use super::checks::{basic_auth, v2_request};
use super::git_cli::{git, git_raw, shallow_clone, TempDir};
use super::http_client::request;
use super::store::{created_id, skill_zip, upload};
use super::wrangler::Wrangler;

/// The marketplace the load runs against.
const SLUG: &str = "load";

/// The kinds of request, in the order clients cycle through them.
pub const KINDS: [&str; 5] = ["clone", "pull", "ls-refs", "zip", "store"];

/// When each view of each user was current: `(user, commit, etag, from,
/// until)`, `until` open while it still is. Bounds are taken before and
/// after each change, so a view counts as current a little longer than it
/// was, never shorter.
#[derive(Default)]
struct Timeline {
    spans: Vec<(usize, String, String, Instant, Option<Instant>)>,
}

impl Timeline {
    /// Records `user`'s view after a change that began at `began`.
    fn observe(&mut self, user: usize, commit: &str, etag: &str, began: Instant) {
        let open = self.spans.iter_mut().find(|s| s.0 == user && s.4.is_none());
        if let Some(span) = open {
            if span.1 == commit {
                return;
            }
            span.4 = Some(Instant::now());
        }
        self.spans
            .push((user, commit.to_string(), etag.to_string(), began, None));
    }

    /// Whether `user`'s view `id` had been replaced before `end`.
    fn replaced_before(&self, user: usize, id: &str, end: Instant) -> bool {
        !self.spans.iter().any(|(u, commit, _, _, until)| {
            *u == user && commit == id && until.is_none_or(|t| t >= end)
        })
    }

    /// Whether `user` was served `id` (a commit or an ETag) at some moment
    /// between `start` and `end`.
    fn current_during(&self, user: usize, id: &str, start: Instant, end: Instant) -> bool {
        self.spans.iter().any(|(u, commit, etag, from, until)| {
            *u == user
                && (commit == id || etag == id)
                && *from <= end
                && until.is_none_or(|t| t >= start)
        })
    }
}

/// A request that succeeded, and what it was served.
struct Served {
    kind: &'static str,
    client: usize,
    user: usize,
    /// The commits or ETags it was served.
    seen: Vec<String>,
    start: Instant,
    end: Instant,
}

/// What one run measured and found.
pub struct Report {
    pub clients: usize,
    pub elapsed: Duration,
    /// Per kind: the durations of its successful requests.
    pub samples: BTreeMap<&'static str, Vec<Duration>>,
    /// Every failed request or check, with what went wrong.
    pub failures: Vec<String>,
    /// View changes the admin made during the run.
    pub changes: usize,
    /// Distinct commits the clones received.
    pub commits_cloned: usize,
    /// Clones and pulls served a view that a change had replaced before
    /// they ended: the clones that raced a change.
    pub raced: usize,
}

impl Report {
    /// Requests per second, all kinds together.
    pub fn rate(&self) -> f64 {
        let n: usize = self.samples.values().map(Vec::len).sum();
        n as f64 / self.elapsed.as_secs_f64()
    }

    /// A table: requests, rate, p50 and p99 per kind.
    pub fn table(&self) -> String {
        let mut out = format!(
            "{} clients for {:.1} s, {} view changes, {} distinct commits cloned, {} clones and pulls finished after their view changed, {} refused once by a revocation and run again, {} dropped once by wrangler dev's proxy (503) and run again\n\n{:<10} {:>9} {:>9} {:>10} {:>10}\n",
            self.clients,
            self.elapsed.as_secs_f64(),
            self.changes,
            self.commits_cloned,
            self.raced,
            BRAKED.load(Ordering::SeqCst),
            PROXY_DROPPED.load(Ordering::SeqCst),
            "request",
            "count",
            "per s",
            "p50",
            "p99"
        );
        for kind in KINDS {
            let s = self.samples.get(kind).cloned().unwrap_or_default();
            if s.is_empty() {
                out.push_str(&format!("{kind:<10} {:>9}\n", 0));
                continue;
            }
            out.push_str(&format!(
                "{kind:<10} {:>9} {:>9.1} {:>7.1} ms {:>7.1} ms\n",
                s.len(),
                s.len() as f64 / self.elapsed.as_secs_f64(),
                median_ms(&s),
                percentile_ms(&s, 0.99)
            ));
        }
        out.push_str(&format!(
            "{:<10} {:>9} {:>9.1}\nfailures: {}\n",
            "all",
            self.samples.values().map(Vec::len).sum::<usize>(),
            self.rate(),
            self.failures.len()
        ));
        out
    }
}

fn percentile_ms(samples: &[Duration], q: f64) -> f64 {
    let mut ms: Vec<f64> = samples.iter().map(|d| d.as_secs_f64() * 1e3).collect();
    ms.sort_by(|a, b| a.partial_cmp(b).unwrap());
    ms[((ms.len() as f64 * q).ceil() as usize).clamp(1, ms.len()) - 1]
}

/// The users of a run: token and a pulled clone each.
struct User {
    token: String,
    url: String,
}

/// Sets up the marketplace, groups and users; returns the users.
fn setup(api: &Api) -> Vec<User> {
    let r = api.import(SLUG, &zip_of(&marketplace(SLUG, "1.0.0")));
    assert_eq!(r.status, 200, "import: {}", r.text());
    let grants: [&[&str]; 4] = [
        &["alpha"],
        &["alpha", "beta"],
        &["beta", "gamma"],
        &["alpha", "gamma"],
    ];
    let mut users = Vec::new();
    for (i, plugins) in grants.iter().enumerate() {
        let name = format!("load-u{i}");
        let token = api.user_with_token(&name);
        let group = format!("load-g{i}");
        api.group(&group, &[&name]);
        for p in *plugins {
            api.grant(&group, SLUG, p, "available");
        }
        users.push(User {
            url: api.git_url(&token),
            token,
        });
    }
    users
}

/// Runs the load: `clients` threads for `duration` against the Worker `w`.
pub fn run(w: &Wrangler, clients: usize, duration: Duration) -> Report {
    let base = w.base.as_str();
    let api = Arc::new(Api::new(base));
    let users = Arc::new(setup(&api));
    // A Store skill, installed and uninstalled by user 3 as a view change.
    let skill = created_id(&upload(
        base,
        &users[0].token,
        "/api/store/entities",
        "skill",
        "load-skill",
        &skill_zip("load-skill"),
    ));
    let timeline = Arc::new(Mutex::new(Timeline::default()));
    let observe_all = {
        let (api, users, timeline) = (Arc::clone(&api), Arc::clone(&users), Arc::clone(&timeline));
        move |began: Instant| {
            std::thread::scope(|scope| {
                for (i, u) in users.iter().enumerate() {
                    let (api, timeline) = (&api, &timeline);
                    scope.spawn(move || {
                        let info = api.info(&u.token);
                        timeline.lock().unwrap().observe(
                            i,
                            info["commit"].as_str().unwrap(),
                            info["etag"].as_str().unwrap(),
                            began,
                        );
                    });
                }
            });
        }
    };
    observe_all(Instant::now());

    let stop = Arc::new(AtomicBool::new(false));
    let failures = Arc::new(Mutex::new(Vec::new()));
    let served: Arc<Mutex<Vec<Served>>> = Arc::default();
    let changes = Arc::new(AtomicUsize::new(0));
    let started = Instant::now();

    let admin = {
        let (api, users, stop, failures, changes) = (
            Arc::clone(&api),
            Arc::clone(&users),
            Arc::clone(&stop),
            Arc::clone(&failures),
            Arc::clone(&changes),
        );
        std::thread::spawn(move || {
            let mut step = 0usize;
            while !stop.load(Ordering::SeqCst) {
                std::thread::sleep(Duration::from_millis(500));
                let began = Instant::now();
                let outcome = catch_unwind(AssertUnwindSafe(|| change(&api, &users, skill, step)));
                if let Err(e) = outcome {
                    failures
                        .lock()
                        .unwrap()
                        .push(format!("admin change {step}: {}", panic_text(&e)));
                }
                observe_all(began);
                changes.fetch_add(1, Ordering::SeqCst);
                step += 1;
            }
        })
    };

    let workers: Vec<_> = (0..clients)
        .map(|c| {
            let (users, stop, failures, served) = (
                Arc::clone(&users),
                Arc::clone(&stop),
                Arc::clone(&failures),
                Arc::clone(&served),
            );
            let base = base.to_string();
            std::thread::spawn(move || {
                let user = c % users.len();
                let u = &users[user];
                let pulls = TempDir::new("load-pull");
                let mut round = c;
                while !stop.load(Ordering::SeqCst) {
                    let kind = KINDS[round % KINDS.len()];
                    round += 1;
                    let t0 = Instant::now();
                    let outcome =
                        catch_unwind(AssertUnwindSafe(|| one(kind, &base, u, pulls.path())));
                    let t1 = Instant::now();
                    // Views are checked after the run: the admin thread
                    // may observe a change after a request saw it.
                    match outcome {
                        Ok(Ok(seen)) => served.lock().unwrap().push(Served {
                            kind,
                            client: c,
                            user,
                            seen,
                            start: t0,
                            end: t1,
                        }),
                        Ok(Err(e)) => failures
                            .lock()
                            .unwrap()
                            .push(format!("client {c} {kind}: {e}")),
                        Err(e) => failures
                            .lock()
                            .unwrap()
                            .push(format!("client {c} {kind}: {}", panic_text(&e))),
                    }
                }
            })
        })
        .collect();

    std::thread::sleep(duration);
    stop.store(true, Ordering::SeqCst);
    for w in workers {
        let _ = w.join();
    }
    let elapsed = started.elapsed();
    let _ = admin.join();
    let timeline = timeline.lock().unwrap();
    let mut failures = std::mem::take(&mut *failures.lock().unwrap());
    let mut samples: BTreeMap<&'static str, Vec<Duration>> = BTreeMap::new();
    let mut cloned = std::collections::BTreeSet::new();
    let mut raced = 0;
    for r in served.lock().unwrap().iter() {
        let stale: Vec<&String> = r
            .seen
            .iter()
            .filter(|id| !timeline.current_during(r.user, id, r.start, r.end))
            .collect();
        if !stale.is_empty() {
            failures.push(format!(
                "client {} {}: served {stale:?}, which was not user {}'s view during the request",
                r.client, r.kind, r.user
            ));
            continue;
        }
        if r.kind == "clone" {
            cloned.extend(r.seen.iter().cloned());
        }
        if matches!(r.kind, "clone" | "pull")
            && r.seen
                .iter()
                .any(|id| timeline.replaced_before(r.user, id, r.end))
        {
            raced += 1;
        }
        samples.entry(r.kind).or_default().push(r.end - r.start);
    }
    let own_503 = w.responses_with_status(503);
    if w.responses_with_status(200) == 0 {
        failures.push("the Worker's log shows no response at all, so its own 503s cannot be told from the proxy's".into());
    } else if own_503 > 0 {
        failures.push(format!(
            "the Worker itself answered 503 {own_503} times (its log's status field)"
        ));
    }
    let commits_cloned = cloned.len();
    Report {
        clients,
        elapsed,
        samples,
        failures,
        changes: changes.load(Ordering::SeqCst),
        commits_cloned,
        raced,
    }
}

/// The admin's `step`th change: a grant, an opt-out, a Store install and a
/// re-import, in turn.
fn change(api: &Api, users: &[User], skill: i64, step: usize) {
    let on = (step / 4).is_multiple_of(2);
    match step % 4 {
        0 => {
            let method = if on { "DELETE" } else { "PUT" };
            api.admin(
                method,
                &format!("/api/admin/groups/load-g0/grants/{SLUG}/alpha"),
                Some(&json!({"requirement": "available"})),
                204,
            );
        }
        1 => {
            let method = if on { "PUT" } else { "DELETE" };
            let r = api.call(
                &users[1].token,
                method,
                &format!("/api/me/optouts/{SLUG}/beta"),
                None,
            );
            assert!(r.status < 300, "opt-out: {} {}", r.status, r.text());
        }
        2 => {
            let method = if on { "POST" } else { "DELETE" };
            let r = api.call(
                &users[3].token,
                method,
                &format!("/api/store/entities/{skill}/install"),
                None,
            );
            assert!(r.status < 300, "install: {} {}", r.status, r.text());
        }
        _ => {
            // New files for every plugin, then the old ones back.
            let version = if on { "2.0.0" } else { "1.0.0" };
            let r = api.import(SLUG, &zip_of(&marketplace(SLUG, version)));
            assert_eq!(r.status, 200, "re-import: {}", r.text());
        }
    }
}

/// Clones and fetches refused because an admin revoked something in the
/// view they were shown (issue 17's brake: `not our ref`), then run again.
pub static BRAKED: AtomicUsize = AtomicUsize::new(0);

/// Requests answered 503 by `wrangler dev`'s proxy, then run again; `run`
/// fails unless the Worker's own log has no 503 at all.
pub static PROXY_DROPPED: AtomicUsize = AtomicUsize::new(0);

/// Runs a git command; when it is refused with `not our ref` (the brake on
/// an advertised commit whose plugins were revoked meanwhile) or answered
/// 503 (see `PROXY_DROPPED`), runs it once more, as a client's next try
/// would, and counts it.
fn git_braked(run: impl Fn() -> std::process::Output) -> std::process::Output {
    let out = run();
    let stderr = String::from_utf8_lossy(&out.stderr);
    if out.status.success() {
        return out;
    }
    if stderr.contains("not our ref") {
        BRAKED.fetch_add(1, Ordering::SeqCst);
        return run();
    }
    if stderr.contains("returned error: 503") {
        PROXY_DROPPED.fetch_add(1, Ordering::SeqCst);
        return run();
    }
    out
}

/// `request`, sent once more when `wrangler dev`'s proxy answers 503 for
/// it (see `PROXY_DROPPED`).
fn request_once_more(
    base: &str,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> super::http_client::RawResponse {
    let r = request(base, method, path, headers, body);
    if r.status == 503 && r.text().contains("restarted mid-request") {
        PROXY_DROPPED.fetch_add(1, Ordering::SeqCst);
        return request(base, method, path, headers, body);
    }
    r
}

/// One request of `kind` for user `u`, checked; the commits or ETags it
/// was served (to check against the timeline).
fn one(kind: &str, base: &str, u: &User, pulls: &Path) -> Result<Vec<String>, String> {
    match kind {
        "clone" => {
            let dir = TempDir::new("load-clone");
            let out = git_braked(|| {
                let _ = std::fs::remove_dir_all(dir.path().join("w"));
                shallow_clone(dir.path(), &u.url)
            });
            if !out.status.success() {
                return Err(format!(
                    "git clone: {}",
                    String::from_utf8_lossy(&out.stderr)
                ));
            }
            let w = dir.path().join("w");
            fsck(&w)?;
            Ok(vec![git(&w, &["rev-parse", "HEAD"])])
        }
        "pull" => {
            let w = pulls.join("w");
            if !w.exists() {
                let out = git_braked(|| {
                    let _ = std::fs::remove_dir_all(&w);
                    git_raw(pulls, &["clone", "-q", "--depth", "1", &u.url, "w"], None)
                });
                if !out.status.success() {
                    return Err(format!(
                        "git clone for pulls: {}",
                        String::from_utf8_lossy(&out.stderr)
                    ));
                }
            } else {
                // A view is a new root commit each time: fetch and move to it.
                let out =
                    git_braked(|| git_raw(&w, &["fetch", "-q", "--depth", "1", "origin"], None));
                if !out.status.success() {
                    return Err(format!(
                        "git fetch: {}",
                        String::from_utf8_lossy(&out.stderr)
                    ));
                }
                let out = git_raw(&w, &["reset", "-q", "--hard", "FETCH_HEAD"], None);
                if !out.status.success() {
                    return Err(format!(
                        "git reset: {}",
                        String::from_utf8_lossy(&out.stderr)
                    ));
                }
            }
            fsck(&w)?;
            Ok(vec![git(&w, &["rev-parse", "HEAD"])])
        }
        "ls-refs" => {
            let body = v2_request("ls-refs", &["symrefs".into(), "ref-prefix HEAD".into()]);
            let r = request_once_more(
                base,
                "POST",
                "/marketplace.git/git-upload-pack",
                &[
                    ("Authorization", &basic_auth(&u.token)),
                    ("Content-Type", "application/x-git-upload-pack-request"),
                    ("Git-Protocol", "version=2"),
                ],
                &body,
            );
            if r.status != 200 {
                return Err(format!("ls-refs answered {}: {}", r.status, r.text()));
            }
            let text = r.text();
            let commit = text
                .lines()
                .find_map(|l| l.get(4..).filter(|l| l.contains(" HEAD")))
                .and_then(|l| l.split(' ').next())
                .ok_or_else(|| format!("no HEAD in ls-refs: {text:?}"))?;
            Ok(vec![commit.to_string()])
        }
        "zip" => {
            let r = request_once_more(
                base,
                "GET",
                "/marketplace.zip",
                &[("Authorization", &format!("Bearer {}", u.token))],
                b"",
            );
            if r.status != 200 {
                return Err(format!("ZIP answered {}: {}", r.status, r.text()));
            }
            let etag = r
                .header("etag")
                .ok_or("ZIP without an ETag")?
                .trim_matches('"')
                .to_string();
            let mut zip = zip::ZipArchive::new(std::io::Cursor::new(&r.body))
                .map_err(|e| format!("unreadable ZIP: {e}"))?;
            for i in 0..zip.len() {
                let mut f = zip.by_index(i).map_err(|e| format!("ZIP entry {i}: {e}"))?;
                // Reading to the end checks each entry's CRC.
                std::io::copy(&mut f, &mut std::io::sink())
                    .map_err(|e| format!("ZIP entry {i}: {e}"))?;
            }
            Ok(vec![etag])
        }
        _ => {
            let r = request_once_more(
                base,
                "GET",
                "/api/store/entities",
                &[("Authorization", &format!("Bearer {}", u.token))],
                b"",
            );
            if r.status != 200 {
                return Err(format!("Store listing answered {}: {}", r.status, r.text()));
            }
            serde_json::from_slice::<serde_json::Value>(&r.body)
                .map_err(|e| format!("Store listing is not JSON: {e}"))?;
            Ok(Vec::new())
        }
    }
}

fn fsck(repo: &Path) -> Result<(), String> {
    let out = git_raw(repo, &["fsck", "--strict", "--no-dangling"], None);
    if out.status.success() {
        Ok(())
    } else {
        Err(format!(
            "fsck --strict: {}",
            String::from_utf8_lossy(&out.stderr)
        ))
    }
}

fn panic_text(e: &Box<dyn std::any::Any + Send>) -> String {
    e.downcast_ref::<String>()
        .cloned()
        .or_else(|| e.downcast_ref::<&str>().map(|s| s.to_string()))
        .unwrap_or_else(|| "panicked".into())
}
