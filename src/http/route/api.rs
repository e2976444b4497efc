//! The API's routes under `/api/admin/`, `/api/me/` and `/api/store/`,
//! typed, and the parsing of a path below each into them. What each is
//! recorded as lives beside the rest of the table, in `route::Route::audit`.

/// `/api/admin/…`, by resource.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Admin<'a> {
    Users(Users<'a>),
    Groups(Groups<'a>),
    Marketplaces(Marketplaces<'a>),
    Moderation(Moderation<'a>),
    Cache(Cache),
    Review(Review<'a>),
    /// `GET audit`.
    Audit,
}

/// `/api/admin/review…` and the review setting.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Review<'a> {
    /// `GET review`: versions waiting, oldest first.
    Queue,
    /// `GET review/count`: how many wait (the Admin menu's number).
    Count,
    /// `GET review/{id}/{version}`: the version's line diff against the
    /// served one.
    Diff {
        id: &'a str,
        version: &'a str,
    },
    /// `POST review/{id}/{version}`.
    Decide {
        id: &'a str,
        version: &'a str,
    },
    /// `GET` / `PUT settings/store-review`.
    Mode,
    SetMode,
}

/// `/api/admin/users…` and `/api/admin/tokens…`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Users<'a> {
    /// `POST users`.
    Create,
    /// `GET users`.
    List,
    /// `GET users/{user}`.
    Get {
        user: &'a str,
    },
    /// `PATCH users/{user}`.
    Update {
        user: &'a str,
    },
    /// `PUT` / `DELETE users/{user}/disabled`.
    Disable {
        user: &'a str,
    },
    Enable {
        user: &'a str,
    },
    /// `DELETE users/{user}`.
    Delete {
        user: &'a str,
    },
    /// `GET users/{user}/tokens`.
    Tokens {
        user: &'a str,
    },
    /// `POST users/{user}/tokens`.
    CreateToken {
        user: &'a str,
    },
    /// `GET users/{user}/access`.
    Access {
        user: &'a str,
    },
    /// `DELETE tokens/{id}`.
    RevokeToken {
        id: &'a str,
    },
}

/// `/api/admin/groups…` and `/api/admin/access`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Groups<'a> {
    /// `POST groups`.
    Create,
    /// `GET groups`.
    List,
    /// `PUT` / `DELETE groups/{group}/members/{user}`.
    AddMember {
        group: &'a str,
        user: &'a str,
    },
    RemoveMember {
        group: &'a str,
        user: &'a str,
    },
    /// `PUT` / `DELETE groups/{group}/grants/{slug}/{plugin}`.
    Grant {
        group: &'a str,
        slug: &'a str,
        plugin: &'a str,
    },
    Revoke {
        group: &'a str,
        slug: &'a str,
        plugin: &'a str,
    },
    /// `PUT` / `DELETE groups/{group}/grants/{slug}`: a whole marketplace.
    GrantMarketplace {
        group: &'a str,
        slug: &'a str,
    },
    RevokeMarketplace {
        group: &'a str,
        slug: &'a str,
    },
    /// `GET access`: the access matrix.
    Matrix,
}

/// `/api/admin/marketplaces…` and `/api/admin/plugins…`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Marketplaces<'a> {
    /// `GET marketplaces`.
    List,
    /// `GET marketplaces/{slug}`.
    Get {
        slug: &'a str,
    },
    /// `PUT marketplaces/{slug}`: an import.
    Import {
        slug: &'a str,
    },
    /// `DELETE marketplaces/{slug}`.
    Delete {
        slug: &'a str,
    },
    /// `PUT` / `DELETE marketplaces/{slug}/source`.
    SetSource {
        slug: &'a str,
    },
    RemoveSource {
        slug: &'a str,
    },
    /// `POST marketplaces/{slug}/sync`.
    Sync {
        slug: &'a str,
    },
    /// `PUT` / `DELETE plugins/{slug}/{plugin}/disabled`.
    Disable {
        slug: &'a str,
        plugin: &'a str,
    },
    Enable {
        slug: &'a str,
        plugin: &'a str,
    },
    /// `PUT plugins/{slug}/{plugin}/served-name`.
    Rename {
        slug: &'a str,
        plugin: &'a str,
    },
}

/// `/api/admin/store…`: moderation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Moderation<'a> {
    /// `GET store/unpublished`.
    Unpublished,
    /// `PUT` / `DELETE store/entities/{id}/unpublished`.
    Unpublish {
        id: &'a str,
    },
    Restore {
        id: &'a str,
    },
}

/// `/api/admin/gc`, `/api/admin/cache…` and `/api/admin/runtime`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cache {
    /// `POST gc`.
    Gc,
    /// `GET cache`.
    List,
    /// `POST cache/purge`.
    Purge,
    /// `GET runtime`.
    Runtime,
}

/// `/api/me/…`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Me<'a> {
    /// `GET stack`.
    Stack,
    /// `PUT` / `DELETE optouts/{slug}/{plugin}`.
    OptOut {
        slug: &'a str,
        plugin: &'a str,
    },
    OptIn {
        slug: &'a str,
        plugin: &'a str,
    },
    /// `GET tokens`.
    Tokens,
    /// `POST tokens`.
    CreateToken,
    /// `DELETE tokens/{id}`.
    RevokeToken {
        id: &'a str,
    },
}

/// `/api/store/…`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Store<'a> {
    /// `POST entities`.
    Publish,
    /// `POST entities/preview`.
    Preview,
    /// `GET entities`.
    List,
    /// `GET facets`.
    Facets,
    /// `GET entities/{id}`.
    Get {
        id: &'a str,
    },
    /// `GET entities/{id}/files/{path…}`: the path's segments.
    File {
        id: &'a str,
        path: Vec<&'a str>,
    },
    /// `PUT entities/{id}`.
    Edit {
        id: &'a str,
    },
    /// `DELETE entities/{id}`.
    Delete {
        id: &'a str,
    },
    /// `POST` / `DELETE entities/{id}/install`.
    Install {
        id: &'a str,
    },
    Uninstall {
        id: &'a str,
    },
    /// `PUT` / `DELETE entities/{id}/rating`: a member's vote.
    Rate {
        id: &'a str,
    },
    Unrate {
        id: &'a str,
    },
    /// `GET entities/{id}/versions`.
    Versions {
        id: &'a str,
    },
    /// `POST entities/{id}/versions/{version}/restore`.
    Restore {
        id: &'a str,
        version: &'a str,
    },
}

pub(super) fn admin<'a>(method: &str, segs: &[&'a str]) -> Option<Admin<'a>> {
    use Admin::{Cache as C, Groups as G, Marketplaces as M, Moderation as Mo, Users as U};
    Some(match (method, segs) {
        ("POST", ["users"]) => U(Users::Create),
        ("GET", ["users"]) => U(Users::List),
        ("GET", ["users", user]) => U(Users::Get { user }),
        ("PATCH", ["users", user]) => U(Users::Update { user }),
        ("PUT", ["users", user, "disabled"]) => U(Users::Disable { user }),
        ("DELETE", ["users", user, "disabled"]) => U(Users::Enable { user }),
        ("DELETE", ["users", user]) => U(Users::Delete { user }),
        ("GET", ["users", user, "tokens"]) => U(Users::Tokens { user }),
        ("POST", ["users", user, "tokens"]) => U(Users::CreateToken { user }),
        ("GET", ["users", user, "access"]) => U(Users::Access { user }),
        ("DELETE", ["tokens", id]) => U(Users::RevokeToken { id }),
        ("POST", ["groups"]) => G(Groups::Create),
        ("GET", ["groups"]) => G(Groups::List),
        ("PUT", ["groups", group, "members", user]) => G(Groups::AddMember { group, user }),
        ("DELETE", ["groups", group, "members", user]) => G(Groups::RemoveMember { group, user }),
        ("PUT", ["groups", group, "grants", slug, plugin]) => G(Groups::Grant {
            group,
            slug,
            plugin,
        }),
        ("DELETE", ["groups", group, "grants", slug, plugin]) => G(Groups::Revoke {
            group,
            slug,
            plugin,
        }),
        ("PUT", ["groups", group, "grants", slug]) => G(Groups::GrantMarketplace { group, slug }),
        ("DELETE", ["groups", group, "grants", slug]) => {
            G(Groups::RevokeMarketplace { group, slug })
        }
        ("GET", ["access"]) => G(Groups::Matrix),
        ("GET", ["marketplaces"]) => M(Marketplaces::List),
        ("GET", ["marketplaces", slug]) => M(Marketplaces::Get { slug }),
        ("PUT", ["marketplaces", slug]) => M(Marketplaces::Import { slug }),
        ("DELETE", ["marketplaces", slug]) => M(Marketplaces::Delete { slug }),
        ("PUT", ["marketplaces", slug, "source"]) => M(Marketplaces::SetSource { slug }),
        ("DELETE", ["marketplaces", slug, "source"]) => M(Marketplaces::RemoveSource { slug }),
        ("POST", ["marketplaces", slug, "sync"]) => M(Marketplaces::Sync { slug }),
        ("PUT", ["plugins", slug, plugin, "disabled"]) => M(Marketplaces::Disable { slug, plugin }),
        ("DELETE", ["plugins", slug, plugin, "disabled"]) => {
            M(Marketplaces::Enable { slug, plugin })
        }
        ("PUT", ["plugins", slug, plugin, "served-name"]) => {
            M(Marketplaces::Rename { slug, plugin })
        }
        ("GET", ["store", "unpublished"]) => Mo(Moderation::Unpublished),
        ("PUT", ["store", "entities", id, "unpublished"]) => Mo(Moderation::Unpublish { id }),
        ("DELETE", ["store", "entities", id, "unpublished"]) => Mo(Moderation::Restore { id }),
        ("POST", ["gc"]) => C(Cache::Gc),
        ("GET", ["cache"]) => C(Cache::List),
        ("POST", ["cache", "purge"]) => C(Cache::Purge),
        ("GET", ["runtime"]) => C(Cache::Runtime),
        ("GET", ["audit"]) => Admin::Audit,
        ("GET", ["review"]) => Admin::Review(Review::Queue),
        ("GET", ["review", "count"]) => Admin::Review(Review::Count),
        ("GET", ["review", id, version]) => Admin::Review(Review::Diff { id, version }),
        ("POST", ["review", id, version]) => Admin::Review(Review::Decide { id, version }),
        ("GET", ["settings", "store-review"]) => Admin::Review(Review::Mode),
        ("PUT", ["settings", "store-review"]) => Admin::Review(Review::SetMode),
        _ => return None,
    })
}

pub(super) fn me<'a>(method: &str, segs: &[&'a str]) -> Option<Me<'a>> {
    Some(match (method, segs) {
        ("GET", ["stack"]) => Me::Stack,
        ("PUT", ["optouts", slug, plugin]) => Me::OptOut { slug, plugin },
        ("DELETE", ["optouts", slug, plugin]) => Me::OptIn { slug, plugin },
        ("GET", ["tokens"]) => Me::Tokens,
        ("POST", ["tokens"]) => Me::CreateToken,
        ("DELETE", ["tokens", id]) => Me::RevokeToken { id },
        _ => return None,
    })
}

pub(super) fn store<'a>(method: &str, segs: &[&'a str]) -> Option<Store<'a>> {
    Some(match (method, segs) {
        ("POST", ["entities"]) => Store::Publish,
        ("POST", ["entities", "preview"]) => Store::Preview,
        ("GET", ["entities"]) => Store::List,
        ("GET", ["facets"]) => Store::Facets,
        ("GET", ["entities", id]) => Store::Get { id },
        ("GET", ["entities", id, "files", path @ ..]) => Store::File {
            id,
            path: path.to_vec(),
        },
        ("PUT", ["entities", id]) => Store::Edit { id },
        ("DELETE", ["entities", id]) => Store::Delete { id },
        ("POST", ["entities", id, "install"]) => Store::Install { id },
        ("DELETE", ["entities", id, "install"]) => Store::Uninstall { id },
        ("PUT", ["entities", id, "rating"]) => Store::Rate { id },
        ("DELETE", ["entities", id, "rating"]) => Store::Unrate { id },
        ("GET", ["entities", id, "versions"]) => Store::Versions { id },
        ("POST", ["entities", id, "versions", version, "restore"]) => {
            Store::Restore { id, version }
        }
        _ => return None,
    })
}
