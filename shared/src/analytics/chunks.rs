//! Participant points stored several to an item (pure). The participant events of one meeting
//! group of a batch are written together: their points, sorted by delivery and cut into chunks
//! of at most [`CHUNK_BYTES`], each chunk keyed by the deliveries it holds. A redelivery of the
//! same group writes the same chunks (the key is their idempotency record); one regrouped with
//! other events writes other chunks that repeat some points, and a settle, which reads every
//! chunk of its instance, counts each delivery once ([`distinct`]). So one write costs a unit
//! per kilobyte of points, not a unit per event.

use std::collections::{BTreeMap, HashSet};

use super::timeline::Point;

/// The most bytes of points in one chunk: its item stays under 4 KB with its keys.
pub const CHUNK_BYTES: usize = 3_000;

/// A point with the delivery that recorded it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Delivered {
    /// The delivery's tag ([`tag`] of its dedup key).
    pub tag: String,
    /// The point.
    pub point: Point,
}

/// Points stored as one item.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Chunk {
    /// Its key: a digest of the tags it holds, in order.
    pub key: String,
    /// The points, encoded ([`decode`] reads them back).
    pub body: String,
    /// How many points it holds.
    pub points: usize,
}

/// The tag a delivery's point is known by: a short digest of its dedup key (the legacy
/// one-point items, keyed by the dedup key itself, are tagged the same way).
pub fn tag(dedup: &str) -> String {
    crate::store::item::digest(dedup)
}

fn encode(d: &Delivered) -> String {
    serde_json::json!([
        d.tag,
        d.point.at,
        u8::from(d.point.join),
        d.point.participant
    ])
    .to_string()
}

/// The chunks of `points`: the same set of deliveries (in any order, repeated or not) always
/// gives the same chunks; a delivery recorded twice in the set is kept once.
pub fn chunks(points: &[Delivered]) -> Vec<Chunk> {
    let by_tag: BTreeMap<&str, &Delivered> = points.iter().map(|d| (d.tag.as_str(), d)).collect();
    let mut out = Vec::new();
    let mut lines: Vec<String> = Vec::new();
    let mut tags: Vec<&str> = Vec::new();
    let mut bytes = 0;
    let mut flush = |lines: &mut Vec<String>, tags: &mut Vec<&str>, bytes: &mut usize| {
        if !lines.is_empty() {
            out.push(Chunk {
                key: crate::store::item::digest(&tags.join(",")),
                body: format!("[{}]", lines.join(",")),
                points: lines.len(),
            });
            lines.clear();
            tags.clear();
            *bytes = 0;
        }
    };
    for (tag, d) in by_tag {
        let line = encode(d);
        if bytes + line.len() + 1 > CHUNK_BYTES {
            flush(&mut lines, &mut tags, &mut bytes);
        }
        bytes += line.len() + 1;
        lines.push(line);
        tags.push(tag);
    }
    flush(&mut lines, &mut tags, &mut bytes);
    out
}

/// The points of a chunk's body; an entry that is not a point is skipped.
pub fn decode(body: &str) -> Vec<Delivered> {
    let Ok(serde_json::Value::Array(entries)) = serde_json::from_str(body) else {
        return Vec::new();
    };
    entries
        .iter()
        .filter_map(|e| {
            let e = e.as_array()?;
            Some(Delivered {
                tag: e.first()?.as_str()?.to_owned(),
                point: Point {
                    at: e.get(1)?.as_i64()?,
                    join: e.get(2)?.as_u64()? == 1,
                    participant: e.get(3)?.as_str()?.to_owned(),
                },
            })
        })
        .collect()
}

/// The points of `delivered`, each delivery once.
pub fn distinct(delivered: impl IntoIterator<Item = Delivered>) -> Vec<Point> {
    let mut seen = HashSet::new();
    delivered
        .into_iter()
        .filter(|d| seen.insert(d.tag.clone()))
        .map(|d| d.point)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn point(dedup: &str, at: i64, participant: &str, join: bool) -> Delivered {
        Delivered {
            tag: tag(dedup),
            point: Point {
                at,
                participant: participant.to_owned(),
                join,
            },
        }
    }

    #[test]
    fn the_same_deliveries_give_the_same_chunks_in_any_order_or_repetition() {
        let a = point("a", 1, "p1", true);
        let b = point("b", 2, "p1", false);
        let c = point("c", 3, "p2", true);
        let one = chunks(&[a.clone(), b.clone(), c.clone()]);
        let two = chunks(&[c.clone(), a.clone(), b.clone(), a.clone()]);
        assert_eq!(one, two);
        assert_eq!(one.len(), 1);
        assert_eq!(one[0].points, 3);
        let other = chunks(&[a, b]);
        assert_ne!(other[0].key, one[0].key, "another set, another key");
    }

    #[test]
    fn chunks_stay_under_the_size_limit_and_keep_every_point() {
        let many: Vec<Delivered> = (0..500)
            .map(|i| {
                point(
                    &format!("d{i}"),
                    i,
                    &format!("participant-{i:04}"),
                    i % 2 == 0,
                )
            })
            .collect();
        let out = chunks(&many);
        assert!(out.len() > 1);
        assert!(out.iter().all(|c| c.body.len() <= CHUNK_BYTES + 2));
        let back: Vec<Delivered> = out.iter().flat_map(|c| decode(&c.body)).collect();
        assert_eq!(back.len(), 500);
        let mut sent = many.clone();
        sent.sort_by(|x, y| x.tag.cmp(&y.tag));
        assert_eq!(back, sent);
    }

    #[test]
    fn hostile_participant_keys_round_trip() {
        let odd = point("x", 7, "a\"b\\c\n\t],[\"ü 🎉", true);
        let out = chunks(std::slice::from_ref(&odd));
        assert_eq!(decode(&out[0].body), vec![odd]);
        assert!(decode("not json").is_empty());
        assert!(
            decode("[[1,2],[\"t\",1,1,\"p\"]]").len() == 1,
            "malformed entries skipped"
        );
    }

    #[test]
    fn a_delivery_in_two_chunks_counts_once() {
        let a = point("a", 1, "p1", true);
        let b = point("b", 2, "p1", false);
        let first = chunks(std::slice::from_ref(&a));
        let regrouped = chunks(&[a.clone(), b.clone()]);
        let all = first
            .iter()
            .chain(regrouped.iter())
            .flat_map(|c| decode(&c.body));
        assert_eq!(distinct(all), vec![a.point, b.point]);
    }
}
