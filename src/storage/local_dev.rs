//! Settings that exist for local development and the tests only: the weak
//! development `ADMIN_TOKEN`, and the test hooks `FAILPOINT_PAUSE`,
//! `FAILPOINT_PAUSE_SECONDS`, `ACCESS_CERTS_URL` and `CF_API_BASE`.
//!
//! Invariant: none of them has any effect unless `LOCAL_DEV` is `1`, which
//! only `.dev.vars` sets (`wrangler dev` reads that file; a deployment
//! never does). A deployment that sets a test hook gets one warning log
//! line per hook and isolate, and the hook is ignored: a failpoint would
//! let anyone stall writes, and the certs and API overrides would send
//! Access verification and purge tokens elsewhere.

use std::cell::RefCell;
use std::collections::HashSet;

use worker::Env;

thread_local! {
    /// Hooks already warned about in this isolate.
    static WARNED: RefCell<HashSet<String>> = RefCell::new(HashSet::new());
}

/// Whether this Worker runs under local development (`LOCAL_DEV = "1"`).
pub fn is_local_dev(env: &Env) -> bool {
    env.var("LOCAL_DEV").is_ok_and(|v| v.to_string() == "1")
}

/// The value of test hook `name` (a var, non-blank) under local
/// development; elsewhere `None`, with one warning if it is set.
pub fn test_hook(env: &Env, name: &str) -> Option<String> {
    let value = env
        .var(name)
        .ok()
        .map(|v| v.to_string())
        .filter(|v| !v.trim().is_empty())?;
    if is_local_dev(env) {
        return Some(value);
    }
    WARNED.with(|w| {
        if w.borrow_mut().insert(name.to_string()) {
            worker::console_warn!(
                "{name} is set, but it is a test hook and this is not local development (LOCAL_DEV is not 1): ignored"
            );
        }
    });
    None
}
