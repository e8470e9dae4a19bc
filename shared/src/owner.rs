//! Ownership, decided in one place: which tenant a piece of data belongs to and which Zoom data
//! that tenant may see. Every store key, every object key, every routed webhook event and every
//! archive job is derived from an [`Owner`], and every read of Zoom data is checked with
//! [`Owner::owns`].
//!
//! A tenant's connection stands for either one Zoom user ([`Reach::User`]: user OAuth, or a
//! Server-to-Server tenant bound to a user of the account) or the whole account
//! ([`Reach::Account`]: the account-wide role of Server-to-Server mode). Data is kept per
//! connection: a connection id is minted when a tenant connects a Zoom user, so when the tenant
//! disconnects or connects another user, nothing of the old connection can be read through the
//! new one, and late writes of requests that were in flight land where the purge removes them.

use serde::{Deserialize, Serialize};

/// What a connection reaches.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "reach", rename_all = "snake_case")]
pub enum Reach {
    /// The meetings, recordings and events hosted by this Zoom user.
    User {
        /// The Zoom user id.
        zoom_user_id: String,
    },
    /// Everything in the Zoom account (Server-to-Server mode's account-wide role).
    Account,
}

/// How the connection gets its Zoom tokens.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Mode {
    /// The tenant authorized our app as its Zoom user (tokens of its own).
    #[serde(rename = "user_oauth")]
    UserOAuth,
    /// The deployment's Server-to-Server app (the account's token, shared).
    ServerToServer,
}

/// The owner of every item a request or an event touches.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Owner {
    /// Our tenant (the caller JWT's `sub`).
    pub tenant_id: String,
    /// The connection the data belongs to (minted at connect time).
    pub connection_id: String,
    /// The Zoom account.
    pub account_id: String,
    /// What the connection reaches.
    #[serde(flatten)]
    pub reach: Reach,
    /// Where its tokens come from.
    pub mode: Mode,
    /// The Zoom user's email, when the reach is a user (callers may name the user by it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
}

impl Owner {
    /// Whether Zoom data hosted by `host_id` (a meeting, a recording, an event) is this
    /// owner's.
    pub fn owns(&self, host_id: &str) -> bool {
        match &self.reach {
            Reach::User { zoom_user_id } => !host_id.is_empty() && zoom_user_id == host_id,
            Reach::Account => true,
        }
    }

    /// Whether the caller may address Zoom user `user` (a user id, an email or `me`) in a
    /// path: a user reach only itself, the account reach anyone of the account.
    pub fn may_address_user(&self, user: &str) -> bool {
        match &self.reach {
            Reach::Account => true,
            Reach::User { zoom_user_id } => {
                user == "me"
                    || user == zoom_user_id
                    || self
                        .email
                        .as_deref()
                        .is_some_and(|e| !e.is_empty() && e.eq_ignore_ascii_case(user))
            }
        }
    }

    /// The path segment that names this owner's Zoom user in REST paths: `me` for a user's own
    /// OAuth token, the user id for a Server-to-Server token (whose `me` is the account), `me`
    /// for the account reach.
    pub fn zoom_user_segment(&self) -> String {
        match (&self.reach, self.mode) {
            (Reach::User { zoom_user_id }, Mode::ServerToServer) => zoom_user_id.clone(),
            _ => "me".to_owned(),
        }
    }

    /// The Zoom user path segment for a caller-supplied `user` (`None`: the owner's own).
    pub fn user_segment_for(&self, user: Option<&str>) -> String {
        match user {
            None | Some("me") => self.zoom_user_segment(),
            Some(other) => other.to_owned(),
        }
    }

    /// The connection's namespace: `{tenant}#{connection}` (tenant ids never contain `#`).
    pub fn namespace(&self) -> String {
        namespace(&self.tenant_id, &self.connection_id)
    }

    /// The partition of the connection's meetings, caches, archive records and timelines.
    pub fn data_pk(&self) -> String {
        format!("DATA#{}", self.namespace())
    }

    /// The partition of the connection's per-day analytics.
    pub fn analytics_pk(&self) -> String {
        format!("ANALYTICS#{}", self.namespace())
    }

    /// The partition of the connection's per-host per-day analytics.
    pub fn host_analytics_pk(&self) -> String {
        format!("HOSTANALYTICS#{}", self.namespace())
    }

    /// Every partition the connection owns (what a purge deletes).
    pub fn partitions(&self) -> [String; 3] {
        [
            self.data_pk(),
            self.analytics_pk(),
            self.host_analytics_pk(),
        ]
    }

    /// The prefix of the connection's archived files in the recordings bucket.
    pub fn object_prefix(&self) -> String {
        object_prefix(&self.tenant_id, &self.connection_id)
    }
}

/// The namespace of a connection's data: `{tenant}#{connection}`.
pub fn namespace(tenant_id: &str, connection_id: &str) -> String {
    format!("{tenant_id}#{connection_id}")
}

/// The bucket prefix of a connection's files: `tenants/{sha256(tenant)[..16]}/{connection}/`.
pub fn object_prefix(tenant_id: &str, connection_id: &str) -> String {
    format!(
        "tenants/{}/{}/",
        crate::store::item::digest(tenant_id),
        connection_id
    )
}

/// A new connection id: 16 random bytes as hex.
pub fn new_connection_id() -> String {
    let mut bytes = [0u8; 16];
    if aws_lc_rs::rand::fill(&mut bytes).is_err() {
        // No randomness: fall back to the clock (unique enough, never a security boundary:
        // the id only separates one connection's data from the next).
        bytes[..8].copy_from_slice(&crate::clock::now_millis().to_be_bytes());
    }
    hex::encode(bytes)
}

#[cfg(test)]
pub mod tests {
    use super::*;

    /// An owner of Zoom user `user` for `tenant` (user OAuth).
    pub fn user_owner(tenant: &str, user: &str) -> Owner {
        Owner {
            tenant_id: tenant.into(),
            connection_id: format!("c-{tenant}"),
            account_id: "acct".into(),
            reach: Reach::User {
                zoom_user_id: user.into(),
            },
            mode: Mode::UserOAuth,
            email: Some(format!("{user}@example.com")),
        }
    }

    #[test]
    fn a_user_reach_owns_only_its_hosts() {
        let owner = user_owner("t", "u1");
        assert!(owner.owns("u1"));
        assert!(!owner.owns("u2"));
        assert!(!owner.owns(""), "an event without a host is nobody's");
        let account = Owner {
            reach: Reach::Account,
            ..owner
        };
        assert!(account.owns("u2"));
    }

    #[test]
    fn a_user_reach_addresses_only_itself() {
        let owner = user_owner("t", "u1");
        for me in ["me", "u1", "U1@example.com"] {
            assert!(owner.may_address_user(me), "{me}");
        }
        for other in ["u2", "someone@example.com", ""] {
            assert!(!owner.may_address_user(other), "{other}");
        }
    }

    #[test]
    fn s2s_user_paths_name_the_user_not_me() {
        let mut owner = user_owner("t", "u1");
        assert_eq!(owner.zoom_user_segment(), "me");
        owner.mode = Mode::ServerToServer;
        assert_eq!(owner.zoom_user_segment(), "u1");
        assert_eq!(owner.user_segment_for(Some("me")), "u1");
    }

    #[test]
    fn connections_have_their_own_partitions_and_prefixes() {
        let a = user_owner("t", "u1");
        let mut b = a.clone();
        b.connection_id = "other".into();
        assert_ne!(a.data_pk(), b.data_pk());
        assert_ne!(a.object_prefix(), b.object_prefix());
        assert!(a.object_prefix().starts_with("tenants/") && a.object_prefix().ends_with('/'));
        assert_ne!(new_connection_id(), new_connection_id());
    }
}
