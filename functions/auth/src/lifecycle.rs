//! A connection's birth and end, over the connections and purge-queue ports: storing a
//! completed flow (the Zoom user it replaced has its data purged) and removing a connection on
//! disconnect. In both, the purge is queued before anything changes, so a failure or a timeout
//! in between never orphans data, and a removal touches only the connection it was decided
//! for: a reconnect to another Zoom user meanwhile has another connection id and stays (a
//! re-authorization of the same user keeps the id, and the disconnect, decided later, wins).

use zoom_shared::connections::{Connection, ConnectionStore};
use zoom_shared::http::ApiError;
use zoom_shared::owner::Owner;
use zoom_shared::purge::{PurgeJob, PurgeQueue};
use zoom_shared::store::StoreError;

use crate::flow::{CallbackError, Completed};

/// Stores a completed connection; when it replaced another Zoom user's connection, that
/// one's purge is queued first.
pub async fn store_completed<C: ConnectionStore, Q: PurgeQueue>(
    connections: &C,
    purges: &Q,
    completed: Completed,
) -> Result<Connection, CallbackError> {
    if let Some(old) = &completed.replaced {
        purges
            .queue_purge(&PurgeJob::first(old, "reconnected"), 0)
            .await
            .map_err(|e| CallbackError::Store(StoreError(e)))?;
    }
    connections.put(&completed.connection).await?;
    Ok(completed.connection)
}

/// Removes `connection` (the caller's own, as read): its purge queued, then the item deleted
/// only while it is still that connection. Returns the owner whose data the purge removes.
pub async fn remove<C: ConnectionStore, Q: PurgeQueue>(
    connections: &C,
    purges: &Q,
    connection: &Connection,
) -> Result<Owner, ApiError> {
    let owner = connection.owner();
    purges
        .queue_purge(&PurgeJob::first(&owner, "disconnect"), 0)
        .await
        .map_err(ApiError::unavailable)?;
    connections
        .delete(&owner.tenant_id, &owner.connection_id)
        .await
        .map_err(ApiError::from)?;
    Ok(owner)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::Ordering;
    use zoom_shared::connections::memory::{MemoryConnections, user_connection};
    use zoom_shared::purge::MemoryPurgeQueue;

    #[tokio::test]
    async fn another_zoom_user_replaces_a_connection_and_purges_the_old_namespace_first() {
        let connections = MemoryConnections::default();
        let purges = MemoryPurgeQueue::default();
        let old = user_connection("m", "c1", "acct", "u1", 100);
        connections.put(&old).await.expect("put");
        let new = user_connection("m", "c2", "acct", "u2", 200);
        purges.failures.store(1, Ordering::SeqCst);
        let completed = || Completed {
            connection: new.clone(),
            replaced: Some(old.owner()),
        };
        assert!(
            store_completed(&connections, &purges, completed())
                .await
                .is_err()
        );
        let stored = connections.get("m").await.expect("get").expect("kept");
        assert_eq!(
            stored.connection_id, "c1",
            "nothing changes without the purge queued"
        );
        store_completed(&connections, &purges, completed())
            .await
            .expect("stored");
        let stored = connections.get("m").await.expect("get").expect("stored");
        assert_eq!(stored.connection_id, "c2");
        let queued = purges.queued();
        assert_eq!(queued.len(), 1);
        assert_eq!(queued[0].0.owner, old.owner());
        // A re-authorization of the same user keeps its namespace: nothing to purge.
        let again = Completed {
            connection: new.clone(),
            replaced: None,
        };
        store_completed(&connections, &purges, again)
            .await
            .expect("stored");
        assert_eq!(purges.queued().len(), 1);
    }

    #[tokio::test]
    async fn a_disconnect_removes_only_the_connection_it_read() {
        let connections = MemoryConnections::default();
        let purges = MemoryPurgeQueue::default();
        let m = user_connection("m", "c1", "acct", "u1", 100);
        let n = user_connection("n", "c9", "acct", "u2", 100);
        for c in [&m, &n] {
            connections.put(c).await.expect("put");
        }
        purges.failures.store(1, Ordering::SeqCst);
        assert!(remove(&connections, &purges, &m).await.is_err());
        assert!(
            connections.get("m").await.expect("get").is_some(),
            "kept: retry"
        );
        let owner = remove(&connections, &purges, &m).await.expect("removed");
        assert_eq!(owner, m.owner());
        assert!(connections.get("m").await.expect("get").is_none());
        assert!(connections.get("n").await.expect("get").is_some());
        // A reconnect raced the disconnect: the removal read c1, the tenant is now on c3.
        let reconnected = user_connection("m", "c3", "acct", "u1", 300);
        connections.put(&reconnected).await.expect("put");
        remove(&connections, &purges, &m).await.expect("removed");
        let current = connections.get("m").await.expect("get").expect("kept");
        assert_eq!(current.connection_id, "c3");
        let purged: Vec<String> = purges
            .queued()
            .iter()
            .map(|(job, _)| job.owner.connection_id.clone())
            .collect();
        assert_eq!(purged, ["c1", "c1"], "only the connection read is purged");
    }
}
