//! Every route of the Worker, in one table: `Route::parse` turns a method
//! and a path into a typed route (its parameters still percent-encoded, as
//! they came), and `Route::audit` says what the audit log records when it
//! succeeds. Both are exhaustive matches over the same enums, so a new
//! route does not compile until it has an audit decision, and a unit test
//! holds every change (anything but GET) to a recorded action or a stated
//! reason not to record one. Pure: the handlers dispatch on these types.

mod api;

use api::{admin, me, store};
pub use api::{Admin, Cache, Groups, Marketplaces, Me, Moderation, Review, Store, Users};

/// A route of the Worker.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Route<'a> {
    /// `GET`/`HEAD /healthz`.
    Health,
    /// Anything under `/marketplace.git`: the path below it.
    Git(&'a str),
    /// `GET /marketplace/info`.
    Info,
    /// `GET`/`HEAD /marketplace.zip`.
    Zip,
    /// `/api/session`, by method.
    Session(Session),
    /// `POST /api/hooks/{slug}`.
    Hook { slug: &'a str },
    /// `/api/admin/…`.
    Admin(Admin<'a>),
    /// `/api/me/…`.
    Me(Me<'a>),
    /// `/api/store/…`.
    Store(Store<'a>),
}

/// `/api/session`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Session {
    /// `GET`: who am I.
    Read,
    /// `POST`: a token exchanged for a session.
    SignIn,
    /// `DELETE`: the session ended.
    SignOut,
    /// Any other method (answered 405).
    Other,
}

/// The area of `/api/` a path is in, for an unknown route: its callers
/// authenticate first (so an unknown path tells a stranger nothing), then
/// answer 404.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Area {
    Admin,
    Member,
    Open,
}

/// What the audit log records when a route succeeds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Audit {
    /// Nothing: the route changes nothing.
    Read,
    /// An action of this name, targeting the path below `/api/`.
    Records(&'static str),
    /// Nothing here, for the stated reason.
    NotRecorded(&'static str),
}

impl<'a> Route<'a> {
    /// The route `method` on `path` names, if any.
    pub fn parse(method: &str, path: &'a str) -> Option<Route<'a>> {
        if matches!((method, path), ("GET" | "HEAD", "/healthz")) {
            return Some(Route::Health);
        }
        if let Some(rel) = path.strip_prefix("/marketplace.git") {
            if rel.is_empty() || rel.starts_with('/') {
                return Some(Route::Git(rel));
            }
        }
        match (method, path) {
            ("GET", "/marketplace/info") => return Some(Route::Info),
            ("GET" | "HEAD", "/marketplace.zip") => return Some(Route::Zip),
            _ => {}
        }
        let segs: Vec<&'a str> = path.trim_start_matches('/').split('/').collect();
        match (method, segs.as_slice()) {
            (m, ["api", "session"]) => Some(Route::Session(match m {
                "GET" => Session::Read,
                "POST" => Session::SignIn,
                "DELETE" => Session::SignOut,
                _ => Session::Other,
            })),
            ("POST", ["api", "hooks", slug]) => Some(Route::Hook { slug }),
            (m, ["api", "admin", rest @ ..]) => admin(m, rest).map(Route::Admin),
            (m, ["api", "me", rest @ ..]) => me(m, rest).map(Route::Me),
            (m, ["api", "store", rest @ ..]) => store(m, rest).map(Route::Store),
            _ => None,
        }
    }

    /// What the audit log records when this route succeeds.
    pub fn audit(&self) -> Audit {
        use Audit::{NotRecorded, Read, Records};
        match self {
            Route::Health | Route::Info | Route::Zip => Read,
            Route::Git(_) => NotRecorded("fetches change nothing; push is refused"),
            Route::Session(s) => match s {
                Session::Read | Session::Other => Read,
                Session::SignIn => Records("session.sign_in"),
                Session::SignOut => Records("session.sign_out"),
            },
            Route::Hook { .. } => {
                NotRecorded("the sync it starts records itself (actor `webhook`)")
            }
            Route::Admin(a) => match a {
                Admin::Users(u) => match u {
                    Users::List
                    | Users::Get { .. }
                    | Users::Tokens { .. }
                    | Users::Access { .. } => Read,
                    Users::Create => Records("user.create"),
                    Users::Update { .. } => Records("user.update"),
                    Users::Disable { .. } => Records("user.disable"),
                    Users::Enable { .. } => Records("user.enable"),
                    Users::Delete { .. } => Records("user.delete"),
                    Users::CreateToken { .. } => Records("token.create"),
                    Users::RevokeToken { .. } => Records("token.revoke"),
                },
                Admin::Groups(g) => match g {
                    Groups::List | Groups::Matrix => Read,
                    Groups::Create => Records("group.create"),
                    Groups::AddMember { .. } => Records("group.member.add"),
                    Groups::RemoveMember { .. } => Records("group.member.remove"),
                    Groups::Grant { .. } => Records("grant.put"),
                    Groups::Revoke { .. } => Records("grant.delete"),
                    Groups::GrantMarketplace { .. } => Records("grant.marketplace.put"),
                    Groups::RevokeMarketplace { .. } => Records("grant.marketplace.delete"),
                },
                Admin::Marketplaces(m) => match m {
                    Marketplaces::List | Marketplaces::Get { .. } => Read,
                    Marketplaces::Import { .. } => Records("marketplace.import"),
                    Marketplaces::Delete { .. } => Records("marketplace.delete"),
                    Marketplaces::SetSource { .. } => Records("source.set"),
                    Marketplaces::RemoveSource { .. } => Records("source.remove"),
                    Marketplaces::Sync { .. } => Records("source.sync"),
                    Marketplaces::Disable { .. } => Records("plugin.disable"),
                    Marketplaces::Enable { .. } => Records("plugin.enable"),
                    Marketplaces::Rename { .. } => Records("plugin.rename"),
                },
                Admin::Moderation(m) => match m {
                    Moderation::Unpublished => Read,
                    Moderation::Unpublish { .. } => Records("store.unpublish"),
                    Moderation::Restore { .. } => Records("store.restore"),
                },
                Admin::Cache(c) => match c {
                    Cache::List | Cache::Runtime => Read,
                    Cache::Gc => Records("gc.run"),
                    Cache::Purge => Records("cache.purge"),
                },
                Admin::Audit => Read,
                Admin::Review(r) => match r {
                    Review::Queue | Review::Count | Review::Diff { .. } | Review::Mode => Read,
                    Review::Decide { .. } => Records("review.decide"),
                    Review::SetMode => Records("settings.store_review"),
                },
            },
            Route::Me(m) => match m {
                Me::Stack | Me::Tokens => Read,
                Me::OptOut { .. } => Records("optout.add"),
                Me::OptIn { .. } => Records("optout.remove"),
                Me::CreateToken => Records("token.create"),
                Me::RevokeToken { .. } => Records("token.revoke"),
            },
            Route::Store(s) => match s {
                Store::List
                | Store::Facets
                | Store::Get { .. }
                | Store::File { .. }
                | Store::Versions { .. } => Read,
                Store::Preview => NotRecorded("a preview changes nothing"),
                Store::Publish => Records("store.publish"),
                Store::Edit { .. } => Records("store.edit"),
                Store::Delete { .. } => Records("store.delete"),
                Store::Install { .. } => Records("store.install"),
                Store::Uninstall { .. } => Records("store.uninstall"),
                Store::Restore { .. } => Records("store.version_restore"),
                Store::Rate { .. } => Records("store.rate"),
                Store::Unrate { .. } => Records("store.unrate"),
            },
        }
    }
}

/// The area of an API path no route matched (see `Area`).
pub fn area(path: &str) -> Area {
    if path.starts_with("/api/admin/") || path == "/api/admin" {
        Area::Admin
    } else if ["/api/me", "/api/store"]
        .iter()
        .any(|p| path == *p || path.starts_with(&format!("{p}/")))
    {
        Area::Member
    } else {
        Area::Open
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// One request per route, with made-up parameters.
    const EVERY_ROUTE: &[(&str, &str)] = &[
        ("GET", "/healthz"),
        ("GET", "/marketplace.git/info/refs"),
        ("POST", "/marketplace.git/git-upload-pack"),
        ("GET", "/marketplace/info"),
        ("GET", "/marketplace.zip"),
        ("GET", "/api/session"),
        ("POST", "/api/session"),
        ("DELETE", "/api/session"),
        ("PUT", "/api/session"),
        ("POST", "/api/hooks/acme"),
        ("POST", "/api/admin/users"),
        ("GET", "/api/admin/users"),
        ("GET", "/api/admin/users/ann"),
        ("PATCH", "/api/admin/users/ann"),
        ("PUT", "/api/admin/users/ann/disabled"),
        ("DELETE", "/api/admin/users/ann/disabled"),
        ("DELETE", "/api/admin/users/ann"),
        ("GET", "/api/admin/users/ann/tokens"),
        ("POST", "/api/admin/users/ann/tokens"),
        ("GET", "/api/admin/users/ann/access"),
        ("DELETE", "/api/admin/tokens/t1"),
        ("POST", "/api/admin/groups"),
        ("GET", "/api/admin/groups"),
        ("PUT", "/api/admin/groups/eng/members/ann"),
        ("DELETE", "/api/admin/groups/eng/members/ann"),
        ("PUT", "/api/admin/groups/eng/grants/acme/lint"),
        ("DELETE", "/api/admin/groups/eng/grants/acme/lint"),
        ("PUT", "/api/admin/groups/eng/grants/acme"),
        ("DELETE", "/api/admin/groups/eng/grants/acme"),
        ("GET", "/api/admin/access"),
        ("GET", "/api/admin/marketplaces"),
        ("GET", "/api/admin/marketplaces/acme"),
        ("PUT", "/api/admin/marketplaces/acme"),
        ("DELETE", "/api/admin/marketplaces/acme"),
        ("PUT", "/api/admin/marketplaces/acme/source"),
        ("DELETE", "/api/admin/marketplaces/acme/source"),
        ("POST", "/api/admin/marketplaces/acme/sync"),
        ("PUT", "/api/admin/plugins/acme/lint/disabled"),
        ("DELETE", "/api/admin/plugins/acme/lint/disabled"),
        ("PUT", "/api/admin/plugins/acme/lint/served-name"),
        ("GET", "/api/admin/store/unpublished"),
        ("PUT", "/api/admin/store/entities/7/unpublished"),
        ("DELETE", "/api/admin/store/entities/7/unpublished"),
        ("POST", "/api/admin/gc"),
        ("GET", "/api/admin/cache"),
        ("POST", "/api/admin/cache/purge"),
        ("GET", "/api/admin/runtime"),
        ("GET", "/api/admin/audit"),
        ("GET", "/api/me/stack"),
        ("PUT", "/api/me/optouts/acme/lint"),
        ("DELETE", "/api/me/optouts/acme/lint"),
        ("GET", "/api/me/tokens"),
        ("POST", "/api/me/tokens"),
        ("DELETE", "/api/me/tokens/t1"),
        ("POST", "/api/store/entities"),
        ("POST", "/api/store/entities/preview"),
        ("GET", "/api/store/entities"),
        ("GET", "/api/store/facets"),
        ("GET", "/api/store/entities/7"),
        ("GET", "/api/store/entities/7/files/a/b.md"),
        ("PUT", "/api/store/entities/7"),
        ("DELETE", "/api/store/entities/7"),
        ("POST", "/api/store/entities/7/install"),
        ("DELETE", "/api/store/entities/7/install"),
        ("GET", "/api/store/entities/7/versions"),
        ("GET", "/api/admin/review"),
        ("POST", "/api/admin/review/7/2"),
        ("GET", "/api/admin/review/count"),
        ("GET", "/api/admin/review/7/2"),
        ("GET", "/api/admin/settings/store-review"),
        ("PUT", "/api/admin/settings/store-review"),
        ("POST", "/api/store/entities/7/versions/2/restore"),
        ("PUT", "/api/store/entities/7/rating"),
        ("DELETE", "/api/store/entities/7/rating"),
    ];

    #[test]
    fn every_change_is_recorded_or_says_why_not() {
        for (method, path) in EVERY_ROUTE {
            let route = Route::parse(method, path).unwrap_or_else(|| panic!("{method} {path}"));
            let audit = route.audit();
            match *method {
                "GET" | "HEAD" => assert!(
                    !matches!(audit, Audit::Records(_)),
                    "{method} {path} reads, but is recorded as {audit:?}"
                ),
                _ if matches!(route, Route::Session(Session::Other)) => {
                    assert_eq!(audit, Audit::Read)
                }
                _ => assert!(
                    matches!(audit, Audit::Records(_) | Audit::NotRecorded(_)),
                    "{method} {path} changes something; it needs an audit action or a reason"
                ),
            }
        }
    }

    #[test]
    fn paths_name_their_routes_and_parameters() {
        assert_eq!(
            Route::parse("PUT", "/api/admin/groups/eng/grants/acme/lint"),
            Some(Route::Admin(Admin::Groups(Groups::Grant {
                group: "eng",
                slug: "acme",
                plugin: "lint"
            })))
        );
        assert_eq!(
            Route::parse("GET", "/api/store/entities/7/files/docs/a%20b.md"),
            Some(Route::Store(Store::File {
                id: "7",
                path: vec!["docs", "a%20b.md"]
            }))
        );
        assert_eq!(
            Route::parse("GET", "/marketplace.git"),
            Some(Route::Git(""))
        );
        assert_eq!(Route::parse("GET", "/marketplace.gitx"), None);
        assert_eq!(Route::parse("GET", "/api/admin/nothing"), None);
        assert_eq!(
            Route::parse("GET", "/api/hooks/acme"),
            None,
            "hooks are POST only"
        );
        assert_eq!(Route::parse("POST", "/healthz"), None);
    }

    #[test]
    fn the_audit_names_are_the_logs_and_distinct_per_route() {
        let mut names = std::collections::BTreeMap::new();
        for (method, path) in EVERY_ROUTE {
            if let Audit::Records(name) = Route::parse(method, path).unwrap().audit() {
                names.entry(name).or_insert_with(Vec::new).push(*path);
            }
        }
        // Only the token routes share a name (an admin's and one's own).
        for (name, paths) in &names {
            assert!(
                paths.len() == 1 || *name == "token.create" || *name == "token.revoke",
                "{name} is recorded for {paths:?}"
            );
        }
        assert_eq!(
            names["store.unpublish"],
            ["/api/admin/store/entities/7/unpublished"]
        );
        assert_eq!(names.len(), 40);
    }

    #[test]
    fn unknown_api_paths_keep_their_area() {
        assert_eq!(area("/api/admin/nothing"), Area::Admin);
        assert_eq!(area("/api/me/nothing"), Area::Member);
        assert_eq!(area("/api/store"), Area::Member);
        assert_eq!(area("/api/storex"), Area::Open);
        assert_eq!(area("/nothing"), Area::Open);
    }
}
