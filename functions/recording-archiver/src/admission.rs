//! Whether an archive job may copy anything, decided here over the connections and archive
//! ports: only for its owner's current connection, only into a record that still exists (a
//! purge removed it otherwise), never twice, and only a file of a recording its owner hosts.

use zoom_shared::archive::{ArchiveJob, ArchiveStatus, ArchiveStore};
use zoom_shared::connections::ConnectionStore;
use zoom_shared::owner::Owner;
use zoom_shared::zoom::models::{ZoomRecording, ZoomRecordingFile};

/// What a job may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Admission {
    /// Copy the file (its record now says `archiving`).
    Copy,
    /// Nothing: the connection was removed (disconnect, deauthorization, another user).
    Disconnected,
    /// Nothing: the file is archived already (a duplicate job).
    AlreadyArchived,
    /// Nothing: the record is gone (purged after the job was queued).
    Purged,
}

/// Whether `owner` is still its tenant's current connection.
pub async fn still_connected<C: ConnectionStore>(
    connections: &C,
    owner: &Owner,
) -> Result<bool, String> {
    Ok(connections
        .get(&owner.tenant_id)
        .await
        .map_err(|e| e.to_string())?
        .is_some_and(|c| c.connection_id == owner.connection_id))
}

/// Admits `job` at `now`: marks its record `archiving` when the copy may go ahead.
pub async fn admit<C: ConnectionStore, A: ArchiveStore>(
    connections: &C,
    archive: &A,
    job: &ArchiveJob,
    now: i64,
) -> Result<Admission, String> {
    let owner = &job.owner;
    if !still_connected(connections, owner).await? {
        return Ok(Admission::Disconnected);
    }
    let store = |e: zoom_shared::store::StoreError| e.to_string();
    if archive
        .get(owner, &job.file_id)
        .await
        .map_err(store)?
        .is_some_and(|r| r.status == ArchiveStatus::Archived)
    {
        return Ok(Admission::AlreadyArchived);
    }
    if !archive
        .set(owner, &job.file_id, ArchiveStatus::Archiving, None, now)
        .await
        .map_err(store)?
    {
        return Ok(Admission::Purged);
    }
    Ok(Admission::Copy)
}

/// The job's file in the recording Zoom answered, if the job's owner hosts that recording.
pub fn owned_file<'r>(
    owner: &Owner,
    recording: &'r ZoomRecording,
    file_id: &str,
) -> Result<&'r ZoomRecordingFile, String> {
    if !owner.owns(&recording.host_id) {
        return Err("the recording is not the job owner's".into());
    }
    recording
        .recording_files
        .iter()
        .find(|f| f.id == file_id)
        .ok_or_else(|| "the file is no longer in the recording".into())
}

#[cfg(test)]
mod tests {
    use super::*;
    use zoom_shared::archive::ArchiveRequest;
    use zoom_shared::archive::memory::MemoryArchive;
    use zoom_shared::connections::memory::{MemoryConnections, user_connection};

    async fn setup() -> (MemoryConnections, MemoryArchive, ArchiveJob) {
        let connections = MemoryConnections::default();
        let m = user_connection("m", "cm", "acct", "u1", 100);
        connections.put(&m).await.expect("put");
        let archive = MemoryArchive::default();
        let request = ArchiveRequest {
            meeting_uuid: "uuid-1",
            file_id: "f1",
            host_id: "u1",
            file_type: "MP4",
        };
        archive
            .request(&m.owner(), &request, 100)
            .await
            .expect("request");
        let job = ArchiveJob {
            owner: m.owner(),
            meeting_uuid: "uuid-1".into(),
            file_id: "f1".into(),
        };
        (connections, archive, job)
    }

    #[tokio::test]
    async fn a_job_of_the_current_connection_copies_once() {
        let (connections, archive, job) = setup().await;
        assert_eq!(
            admit(&connections, &archive, &job, 110).await,
            Ok(Admission::Copy)
        );
        let record = archive.get(&job.owner, "f1").await.expect("get");
        assert_eq!(record.map(|r| r.status), Some(ArchiveStatus::Archiving));
        archive
            .set(
                &job.owner,
                "f1",
                ArchiveStatus::Archived,
                Some(("k", 1)),
                120,
            )
            .await
            .expect("set");
        assert_eq!(
            admit(&connections, &archive, &job, 130).await,
            Ok(Admission::AlreadyArchived)
        );
    }

    #[tokio::test]
    async fn a_job_of_a_removed_or_replaced_connection_copies_nothing() {
        let (connections, archive, job) = setup().await;
        // Another tenant's job naming this tenant's file: its own namespace has no record.
        let other = ArchiveJob {
            owner: user_connection("n", "cn", "acct", "u2", 100).owner(),
            ..job.clone()
        };
        connections
            .put(&user_connection("n", "cn", "acct", "u2", 100))
            .await
            .expect("put");
        assert_eq!(
            admit(&connections, &archive, &other, 110).await,
            Ok(Admission::Purged)
        );
        // The same tenant reconnected as another Zoom user: a new connection id.
        connections
            .put(&user_connection("m", "cm2", "acct", "u3", 105))
            .await
            .expect("put");
        assert_eq!(
            admit(&connections, &archive, &job, 110).await,
            Ok(Admission::Disconnected)
        );
        connections.delete("m", "cm2").await.expect("delete");
        assert_eq!(
            admit(&connections, &archive, &job, 110).await,
            Ok(Admission::Disconnected)
        );
        let record = archive.get(&job.owner, "f1").await.expect("get");
        assert_eq!(
            record.map(|r| r.status),
            Some(ArchiveStatus::Pending),
            "untouched"
        );
    }

    #[test]
    fn only_a_file_of_the_owners_recording_is_copied() {
        let owner = user_connection("m", "cm", "acct", "u1", 100).owner();
        let recording = |host: &str| ZoomRecording {
            host_id: host.into(),
            recording_files: vec![ZoomRecordingFile {
                id: "f1".into(),
                ..serde_json::from_str("{}").expect("file")
            }],
            ..serde_json::from_str("{}").expect("recording")
        };
        assert_eq!(
            owned_file(&owner, &recording("u1"), "f1").map(|f| f.id.as_str()),
            Ok("f1")
        );
        assert!(owned_file(&owner, &recording("u2"), "f1").is_err());
        assert!(owned_file(&owner, &recording(""), "f1").is_err());
        assert!(owned_file(&owner, &recording("u1"), "f2").is_err());
    }
}
