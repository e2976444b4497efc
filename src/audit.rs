//! What the audit log calls each recorded request: every admin change and
//! every Store publish, edit, delete, install and opt-out (and token
//! changes and web UI sign-ins and sign-outs, which a security review asks
//! about too). Pure: a method and a path in, an action name and its target
//! out; reads and refusals are not recorded. The log never holds a body,
//! header or query, so no secret.

/// A recorded action: its name (e.g. `grant.put`) and its target, the
/// route's path below `/api/` (e.g. `admin/groups/eng/grants/acme/lint`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Action {
    pub name: &'static str,
    pub target: String,
}

/// The action a successful `method` on `path` performed, if it is one the
/// audit log records.
pub fn action(method: &str, path: &str) -> Option<Action> {
    let rest = path.strip_prefix("/api/")?;
    let segs: Vec<&str> = rest.split('/').collect();
    let name = match (method, segs.as_slice()) {
        ("POST", ["admin", "users"]) => "user.create",
        ("PATCH", ["admin", "users", _]) => "user.update",
        ("DELETE", ["admin", "users", _]) => "user.delete",
        ("PUT", ["admin", "users", _, "disabled"]) => "user.disable",
        ("DELETE", ["admin", "users", _, "disabled"]) => "user.enable",
        ("POST", ["admin", "users", _, "tokens"]) => "token.create",
        ("DELETE", ["admin", "tokens", _]) => "token.revoke",
        ("POST", ["admin", "groups"]) => "group.create",
        ("PUT", ["admin", "groups", _, "members", _]) => "group.member.add",
        ("DELETE", ["admin", "groups", _, "members", _]) => "group.member.remove",
        ("PUT", ["admin", "groups", _, "grants", _, _]) => "grant.put",
        ("DELETE", ["admin", "groups", _, "grants", _, _]) => "grant.delete",
        ("PUT", ["admin", "groups", _, "grants", _]) => "grant.marketplace.put",
        ("DELETE", ["admin", "groups", _, "grants", _]) => "grant.marketplace.delete",
        ("PUT", ["admin", "marketplaces", _]) => "marketplace.import",
        ("DELETE", ["admin", "marketplaces", _]) => "marketplace.delete",
        ("PUT", ["admin", "marketplaces", _, "source"]) => "source.set",
        ("DELETE", ["admin", "marketplaces", _, "source"]) => "source.remove",
        ("POST", ["admin", "marketplaces", _, "sync"]) => "source.sync",
        ("PUT", ["admin", "plugins", _, _, "disabled"]) => "plugin.disable",
        ("DELETE", ["admin", "plugins", _, _, "disabled"]) => "plugin.enable",
        ("PUT", ["admin", "store", "entities", _, "unpublished"]) => "store.unpublish",
        ("DELETE", ["admin", "store", "entities", _, "unpublished"]) => "store.restore",
        ("POST", ["admin", "gc"]) => "gc.run",
        ("POST", ["admin", "cache", "purge"]) => "cache.purge",
        ("POST", ["store", "entities"]) => "store.publish",
        ("PUT", ["store", "entities", _]) => "store.edit",
        ("DELETE", ["store", "entities", _]) => "store.delete",
        ("POST", ["store", "entities", _, "install"]) => "store.install",
        ("DELETE", ["store", "entities", _, "install"]) => "store.uninstall",
        ("PUT", ["me", "optouts", _, _]) => "optout.add",
        ("DELETE", ["me", "optouts", _, _]) => "optout.remove",
        ("POST", ["me", "tokens"]) => "token.create",
        ("DELETE", ["me", "tokens", _]) => "token.revoke",
        // Web UI sessions: a sign-in with a token, a sign-out.
        ("POST", ["session"]) => "session.sign_in",
        ("DELETE", ["session"]) => "session.sign_out",
        _ => return None,
    };
    Some(Action {
        name,
        target: rest.to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn name(method: &str, path: &str) -> Option<&'static str> {
        action(method, path).map(|a| a.name)
    }

    #[test]
    fn names_admin_and_store_changes_and_ignores_reads_and_previews() {
        assert_eq!(
            action("PUT", "/api/admin/groups/eng/grants/acme/lint"),
            Some(Action {
                name: "grant.put",
                target: "admin/groups/eng/grants/acme/lint".into()
            })
        );
        assert_eq!(
            name("PUT", "/api/admin/groups/eng/grants/acme"),
            Some("grant.marketplace.put")
        );
        assert_eq!(name("POST", "/api/store/entities"), Some("store.publish"));
        assert_eq!(
            name("PUT", "/api/admin/store/entities/7/unpublished"),
            Some("store.unpublish")
        );
        assert_eq!(
            name("DELETE", "/api/me/optouts/acme/lint"),
            Some("optout.remove")
        );
        assert_eq!(
            name("POST", "/api/store/entities/preview"),
            None,
            "a preview changes nothing"
        );
        assert_eq!(name("GET", "/api/admin/users"), None);
        assert_eq!(name("POST", "/api/session"), Some("session.sign_in"));
        assert_eq!(name("GET", "/api/session"), None, "who am I is a read");
        assert_eq!(name("POST", "/marketplace.git/git-upload-pack"), None);
    }
}
