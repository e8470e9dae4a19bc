//! Whose data an event touches, decided here and nowhere else in the processor: an event of
//! account A about Zoom user H reaches the connections that own H's data (a user reach of H,
//! or the account-wide role of A), never every tenant of the account; an `app_deauthorized` of
//! user U removes only U's user-OAuth connections made before it.

use std::collections::{HashMap, HashSet};

use zoom_shared::connections::{ConnectionStore, OwnerDirectory};
use zoom_shared::owner::{Mode, Owner, Reach};
use zoom_shared::purge::{PurgeJob, PurgeQueue};

use crate::failure::{Failure, store};

/// The owners of Zoom user `host`'s data in `account` (the directory's index may be wider; the
/// owner's own reach decides).
pub async fn owners_for<D: OwnerDirectory>(
    directory: &D,
    account: &str,
    host: &str,
) -> Result<Vec<Owner>, Failure> {
    Ok(directory
        .owners_of(account, host)
        .await
        .map_err(store)?
        .into_iter()
        .map(|(owner, _)| owner)
        .filter(|owner| owner.owns(host))
        .collect())
}

/// The owners of each host, looked up once per batch: every event of a batch about the same
/// host shares one lookup instead of two queries each. It lives for one invocation only. A
/// deauthorization handled in the batch makes it forget what it looked up and remember which
/// connections went: they are left out of every later answer, including fresh lookups (the
/// routing index is read eventually consistently and may still list them), and a lookup that
/// started before the deauthorization is not kept.
#[derive(Debug, Default)]
pub struct OwnersMemo {
    state: std::sync::Mutex<MemoState>,
}

#[derive(Debug, Default)]
struct MemoState {
    /// Owners by (account, host).
    known: HashMap<(String, String), Vec<Owner>>,
    /// Connections removed in this batch: (tenant, connection id).
    removed: HashSet<(String, String)>,
    /// Bumped by every [`OwnersMemo::forget`].
    generation: u64,
}

impl MemoState {
    fn without_removed(&self, owners: Vec<Owner>) -> Vec<Owner> {
        owners
            .into_iter()
            .filter(|o| {
                !self
                    .removed
                    .contains(&(o.tenant_id.clone(), o.connection_id.clone()))
            })
            .collect()
    }
}

impl OwnersMemo {
    fn state(&self) -> std::sync::MutexGuard<'_, MemoState> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// [`owners_for`], looked up at most once per (account, host) until [`Self::forget`],
    /// never naming a connection removed in this batch.
    pub async fn owners<D: OwnerDirectory>(
        &self,
        directory: &D,
        account: &str,
        host: &str,
    ) -> Result<Vec<Owner>, Failure> {
        let key = (account.to_owned(), host.to_owned());
        let generation = {
            let state = self.state();
            if let Some(owners) = state.known.get(&key) {
                return Ok(owners.clone());
            }
            state.generation
        };
        let found = owners_for(directory, account, host).await?;
        let mut state = self.state();
        let owners = state.without_removed(found);
        if state.generation == generation {
            state.known.insert(key, owners.clone());
        }
        Ok(owners)
    }

    /// Forgets every lookup, and leaves the `removed` connections (tenant, connection id) out
    /// of every later answer (after a deauthorization removed them).
    pub fn forget(&self, removed: &[(String, String)]) {
        let mut state = self.state();
        state.known.clear();
        state.removed.extend(removed.iter().cloned());
        state.generation += 1;
    }
}

/// What a deauthorization did.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Removal {
    /// Connections removed (their data queued for purging).
    pub deleted: usize,
    /// Which: (tenant, connection id).
    pub removed: Vec<(String, String)>,
    /// Connections kept: made after the deauthorization (a reinstall), or its time unknown.
    pub kept: usize,
}

/// `app_deauthorized` of Zoom user `user` of `account` at `at` (epoch seconds; `None` when
/// Zoom's value is not a time): each of that user's user-OAuth connections made at or before
/// `at` is removed, its purge queued first (a crash in between never orphans data; a purge of
/// a connection that turns out to be current is skipped by the purger). Server-to-Server
/// bindings and account-wide roles are not the user's installation, and stay. Idempotent: a
/// redelivery finds the connection gone or newer.
pub async fn deauthorize<C, Q>(
    connections: &C,
    purges: &Q,
    account: &str,
    user: &str,
    at: Option<i64>,
) -> Result<Removal, Failure>
where
    C: ConnectionStore + OwnerDirectory,
    Q: PurgeQueue,
{
    let owners = connections.owners_of(account, user).await.map_err(store)?;
    let mut removal = Removal::default();
    for (owner, connected_at) in owners {
        let users_own = !user.is_empty()
            && owner.mode == Mode::UserOAuth
            && matches!(&owner.reach, Reach::User { zoom_user_id } if zoom_user_id == user);
        if !users_own {
            continue;
        }
        // The index may lag; the delete below decides on the item itself.
        let Some(at) = at.filter(|at| *at >= connected_at) else {
            tracing::info!("deauthorization older than the current connection; kept");
            removal.kept += 1;
            continue;
        };
        // Decided as of the deauthorization: a reinstall after it (the same Zoom user, so the
        // same connection id) that the delete below keeps is spared by the purger too.
        let job = PurgeJob {
            queued_at: at,
            ..PurgeJob::first(&owner, "deauthorized")
        };
        purges.queue_purge(&job, 0).await?;
        if connections
            .delete_if_connected_by(&owner.tenant_id, &owner.connection_id, at)
            .await
            .map_err(store)?
        {
            removal.deleted += 1;
            removal
                .removed
                .push((owner.tenant_id.clone(), owner.connection_id.clone()));
        } else {
            removal.kept += 1;
        }
    }
    Ok(removal)
}

#[cfg(test)]
mod tests {
    use super::*;
    use zoom_shared::connections::memory::{MemoryConnections, user_connection};
    use zoom_shared::connections::{Connection, ConnectionStore};
    use zoom_shared::purge::MemoryPurgeQueue;

    /// Tenants `m` (Zoom user `u1`) and `n` (`u2`) of account `acct`, `x` (`u1` of another
    /// account), and `admin` with the account-wide role of `acct`.
    async fn directory() -> MemoryConnections {
        let connections = MemoryConnections::default();
        let admin = Connection {
            reach: Reach::Account,
            ..user_connection("admin", "ca", "acct", "", 100)
        };
        for c in [
            user_connection("m", "cm", "acct", "u1", 100),
            user_connection("n", "cn", "acct", "u2", 100),
            user_connection("x", "cx", "other", "u1", 100),
            admin,
        ] {
            connections.put(&c).await.expect("put");
        }
        connections
    }

    fn tenants(owners: &[Owner]) -> Vec<&str> {
        owners.iter().map(|o| o.tenant_id.as_str()).collect()
    }

    #[tokio::test]
    async fn an_event_reaches_its_hosts_owners_only() {
        let d = directory().await;
        let owners = owners_for(&d, "acct", "u1").await.expect("owners");
        assert_eq!(tenants(&owners), ["admin", "m"]);
        let owners = owners_for(&d, "acct", "u2").await.expect("owners");
        assert_eq!(tenants(&owners), ["admin", "n"]);
        assert_eq!(
            tenants(&owners_for(&d, "other", "u1").await.expect("owners")),
            ["x"],
            "the same user id in another account is another owner"
        );
        assert_eq!(
            tenants(&owners_for(&d, "acct", "nobody").await.expect("owners")),
            ["admin"],
            "a host no user connection owns reaches the account-wide role only"
        );
        assert_eq!(
            tenants(&owners_for(&d, "acct", "").await.expect("owners")),
            ["admin"],
            "an event without a host reaches no user's connection"
        );
        assert!(owners_for(&d, "", "u1").await.expect("owners").is_empty());
    }

    #[tokio::test]
    async fn the_memo_looks_each_host_up_once_until_it_forgets() {
        let d = directory().await;
        let memo = OwnersMemo::default();
        let first = memo.owners(&d, "acct", "u1").await.expect("owners");
        assert_eq!(tenants(&first), ["admin", "m"]);
        // n disconnects: the memo still answers what it looked up for u1 (looked up once)...
        d.delete_if_connected_by("n", "cn", 1_000)
            .await
            .expect("delete");
        assert_eq!(
            tenants(&memo.owners(&d, "acct", "u1").await.expect("owners")),
            ["admin", "m"]
        );
        // ...and looks other hosts and accounts up on their own.
        assert_eq!(
            tenants(&memo.owners(&d, "acct", "u2").await.expect("owners")),
            ["admin"]
        );
        assert_eq!(
            tenants(&memo.owners(&d, "other", "u1").await.expect("owners")),
            ["x"],
            "the same user in another account is its own lookup"
        );
    }

    /// A directory whose index still lists a removed connection (the routing index is read
    /// eventually consistently).
    struct LaggingIndex(Vec<(Owner, i64)>);

    impl OwnerDirectory for LaggingIndex {
        async fn owners_of(
            &self,
            _account: &str,
            _host: &str,
        ) -> Result<Vec<(Owner, i64)>, zoom_shared::store::StoreError> {
            Ok(self.0.clone())
        }
    }

    #[tokio::test]
    async fn after_a_deauthorization_the_removed_connection_is_never_answered_again() {
        let d = directory().await;
        let stale = d.owners_of("acct", "u1").await.expect("owners");
        let memo = OwnersMemo::default();
        assert_eq!(
            tenants(&memo.owners(&d, "acct", "u1").await.expect("owners")),
            ["admin", "m"]
        );
        let purges = MemoryPurgeQueue::default();
        let removal = deauthorize(&d, &purges, "acct", "u1", Some(150))
            .await
            .expect("deauthorize");
        memo.forget(&removal.removed);
        // The index still lists m: the memo leaves it out, now and for the rest of the batch.
        let lagging = LaggingIndex(stale);
        for _ in 0..2 {
            assert_eq!(
                tenants(&memo.owners(&lagging, "acct", "u1").await.expect("owners")),
                ["admin"]
            );
        }
    }

    #[tokio::test]
    async fn a_lookup_begun_before_a_forget_is_not_kept() {
        let d = directory().await;
        let memo = OwnersMemo::default();
        // A lookup in flight: its generation is taken, then a deauthorization forgets.
        let generation = memo.state().generation;
        memo.forget(&[("m".to_owned(), "cm".to_owned())]);
        assert_ne!(memo.state().generation, generation);
        // What such a lookup finds is filtered and not stored; the next one looks up afresh.
        let owners = memo.owners(&d, "acct", "u1").await.expect("owners");
        assert_eq!(tenants(&owners), ["admin"]);
        assert!(
            memo.state()
                .known
                .contains_key(&("acct".to_owned(), "u1".to_owned()))
        );
    }

    #[tokio::test]
    async fn a_deauthorization_removes_only_that_users_older_connection() {
        let d = directory().await;
        let purges = MemoryPurgeQueue::default();
        let removal = deauthorize(&d, &purges, "acct", "u1", Some(150))
            .await
            .expect("deauthorize");
        assert_eq!((removal.deleted, removal.kept), (1, 0));
        assert_eq!(removal.removed, [("m".to_owned(), "cm".to_owned())]);
        assert!(d.get("m").await.expect("get").is_none());
        for tenant in ["n", "x", "admin"] {
            assert!(d.get(tenant).await.expect("get").is_some(), "{tenant} kept");
        }
        let queued = purges.queued();
        assert_eq!(queued.len(), 1);
        assert_eq!(
            (queued[0].0.owner.tenant_id.as_str(), queued[0].1),
            ("m", 0)
        );
        // The purge is decided as of the deauthorization: a reinstall after it is spared.
        assert_eq!(queued[0].0.queued_at, 150);
        assert!(queued[0].0.spares("cm", 151));
        assert!(!queued[0].0.spares("cm", 100));
        // A redelivery: nothing more to remove, nothing queued again.
        let again = deauthorize(&d, &purges, "acct", "u1", Some(150))
            .await
            .expect("deauthorize");
        assert_eq!(again, Removal::default());
        assert_eq!(purges.queued().len(), 1);
    }

    #[tokio::test]
    async fn a_deauthorization_older_than_the_connection_or_undated_keeps_it() {
        let d = directory().await;
        let purges = MemoryPurgeQueue::default();
        for at in [Some(99), None] {
            let removal = deauthorize(&d, &purges, "acct", "u1", at)
                .await
                .expect("deauthorize");
            assert_eq!((removal.deleted, removal.kept), (0, 1));
            assert!(removal.removed.is_empty());
        }
        assert!(d.get("m").await.expect("get").is_some());
        assert!(purges.queued().is_empty());
    }

    #[tokio::test]
    async fn a_purge_queue_failure_removes_nothing() {
        let d = directory().await;
        let purges = MemoryPurgeQueue::default();
        purges
            .failures
            .store(1, std::sync::atomic::Ordering::SeqCst);
        assert!(
            deauthorize(&d, &purges, "acct", "u1", Some(150))
                .await
                .is_err()
        );
        assert!(
            d.get("m").await.expect("get").is_some(),
            "kept for the redelivery"
        );
    }

    #[tokio::test]
    async fn server_to_server_bindings_and_the_account_role_survive_a_users_deauthorization() {
        let d = directory().await;
        let s2s = Connection {
            mode: Mode::ServerToServer,
            ..user_connection("s", "cs", "acct", "u1", 100)
        };
        d.put(&s2s).await.expect("put");
        let purges = MemoryPurgeQueue::default();
        let removal = deauthorize(&d, &purges, "acct", "u1", Some(150))
            .await
            .expect("deauthorize");
        assert_eq!(removal.deleted, 1, "only m's user-OAuth connection");
        assert!(d.get("s").await.expect("get").is_some());
        assert!(d.get("admin").await.expect("get").is_some());
    }
}
