//! Faces: the collection's faces with the time each was indexed, the groups of faces that
//! are one person under several user ids (and which face of each group to keep), and
//! deleting faces together with the riders table rows that point at them, so the table
//! never names a deleted face.

use std::collections::HashMap;

use aws_sdk_dynamodb::types::AttributeValue;

use super::executions::ExecutionFilter;
use super::records::RiderRow;
use super::{Ops, OpsError, Result};

#[derive(Debug, Clone, PartialEq, Default)]
pub struct FaceRow {
    pub face_id: String,
    pub user: String,
    pub confidence: f32,
    /// When the face was indexed: the time an execution's IndexFace task returned its
    /// FaceId (AWS's Face has no timestamp); empty for a face indexed outside the workflow.
    pub indexed: String,
    /// Where the face is in its photo: left, top, width, height as ratios of the photo.
    pub bounding_box: Option<[f32; 4]>,
}

/// One person found under more than one user id, and the face that stays.
#[derive(Debug, Clone, PartialEq)]
pub struct Group {
    /// The user id that stays.
    pub keep: String,
    /// Why that one: it is the registered rider, or the oldest indexed.
    pub why: String,
    /// Every face of the group, in the collection's order.
    pub faces: Vec<FaceRow>,
    /// The faces of the other user ids, to delete.
    pub extra: Vec<FaceRow>,
    /// The lowest similarity that joined the group.
    pub similarity: f32,
    /// The riders whose table rows point at an extra face: deleted with it.
    pub rider_rows: Vec<String>,
}

/// A face to delete, and the riders table row that points at it, if one does.
#[derive(Debug, Clone, PartialEq)]
pub struct Deletion {
    pub face_id: String,
    pub user: String,
    /// The rider (Username) whose row names this face: deleted with it.
    pub rider: Option<String>,
}

/// What a deletion did.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Deleted {
    pub faces: usize,
    pub users: Vec<String>,
    pub riders: Vec<String>,
}

impl std::fmt::Display for Deleted {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "Deleted {} face{} of {}",
            self.faces,
            if self.faces == 1 { "" } else { "s" },
            self.users.join(", ")
        )?;
        if !self.riders.is_empty() {
            write!(
                f,
                ", and the riders table row{} of {}",
                if self.riders.len() == 1 { "" } else { "s" },
                self.riders.join(", ")
            )?;
        }
        write!(f, ".")
    }
}

impl Ops {
    /// The collection's faces, in the collection's order, with when each was indexed.
    pub async fn faces(&self) -> Result<Vec<FaceRow>> {
        let mut rows = self.list_faces().await?;
        let ids: Vec<&str> = rows.iter().map(|f| f.face_id.as_str()).collect();
        let times = self.indexed_times(&ids).await;
        for row in &mut rows {
            row.indexed = times.get(&row.face_id).cloned().unwrap_or_default();
        }
        Ok(rows)
    }

    async fn list_faces(&self) -> Result<Vec<FaceRow>> {
        let mut rows = Vec::new();
        let mut token = None;
        loop {
            let page = self
                .clients
                .rekognition
                .list_faces()
                .collection_id(&self.names.collection)
                .set_next_token(token)
                .send()
                .await
                .map_err(|e| OpsError::call(format!("listing the faces of {}", self.names.collection), &e))?;
            for face in page.faces() {
                let bounding_box = face.bounding_box().map(|b| {
                    [
                        b.left().unwrap_or(0.0),
                        b.top().unwrap_or(0.0),
                        b.width().unwrap_or(1.0),
                        b.height().unwrap_or(1.0),
                    ]
                });
                rows.push(FaceRow {
                    face_id: face.face_id().unwrap_or_default().to_string(),
                    user: face.external_image_id().unwrap_or_default().to_string(),
                    confidence: face.confidence().unwrap_or_default(),
                    indexed: String::new(),
                    bounding_box,
                });
            }
            token = page.next_token().map(str::to_string);
            if token.is_none() {
                break;
            }
        }
        Ok(rows)
    }

    /// When each of `faces` was indexed. AWS's Face carries no timestamp; the honest source
    /// is the history of the execution whose IndexFace task returned the FaceId. Executions
    /// are read newest first (finished ones once) and the search stops once every face is
    /// found; a face indexed outside the workflow (the aws CLI) stays without a time.
    async fn indexed_times(&self, faces: &[&str]) -> HashMap<String, String> {
        let mut found = HashMap::new();
        if faces.is_empty() {
            return found;
        }
        let Ok(listed) = self.listed(&ExecutionFilter::default()).await else { return found };
        for chunk in listed.chunks(16) {
            for (_, facts) in self.with_facts(chunk.to_vec()).await {
                for (face, time) in facts.iter().flat_map(|f| f.indexed.iter()) {
                    if faces.contains(&face.as_str()) {
                        found.entry(face.clone()).or_insert_with(|| time.clone());
                    }
                }
            }
            if found.len() == faces.len() {
                break;
            }
        }
        found
    }

    /// Faces of different users that SearchFaces says are one person (similarity at or
    /// above `threshold`), grouped, each group with the face to keep.
    pub async fn duplicates(&self, threshold: f32) -> Result<Vec<Group>> {
        if !(0.0..=100.0).contains(&threshold) {
            return Err(OpsError::BadThreshold(threshold));
        }
        let faces = self.faces().await?;
        let pairs = self.similar_pairs(&faces, threshold).await?;
        let riders = self.riders().await?;
        Ok(group(&faces, &pairs, &riders))
    }

    /// SearchFaces for every face: the pairs above the threshold.
    async fn similar_pairs(&self, faces: &[FaceRow], threshold: f32) -> Result<Vec<(String, String, f32)>> {
        let rek = &self.clients.rekognition;
        let mut pairs = Vec::new();
        for face in faces {
            let found = rek
                .search_faces()
                .collection_id(&self.names.collection)
                .face_id(&face.face_id)
                .face_match_threshold(threshold)
                .max_faces(100)
                .send()
                .await
                .map_err(|e| OpsError::call(format!("SearchFaces for {}", face.face_id), &e))?;
            for m in found.face_matches() {
                if let Some(other) = m.face().and_then(|f| f.face_id()) {
                    pairs.push((face.face_id.clone(), other.to_string(), m.similarity().unwrap_or_default()));
                }
            }
        }
        Ok(pairs)
    }

    /// The faces to delete, by FaceId and by user, each with the rider row that names it.
    /// An id or user that matches nothing is an error, so a typo deletes nothing.
    pub async fn select_faces(&self, ids: &[String], users: &[String]) -> Result<Vec<Deletion>> {
        let faces = self.list_faces().await?;
        let chosen = select(&faces, ids, users)?;
        let riders = self.riders().await?;
        Ok(with_riders(chosen, &riders))
    }

    /// The extra faces of these groups, each with the rider row that names it.
    pub async fn deletions_for(&self, groups: &[Group]) -> Result<Vec<Deletion>> {
        let riders = self.riders().await?;
        let chosen = groups.iter().flat_map(|g| g.extra.iter().map(|f| (f.face_id.clone(), f.user.clone()))).collect();
        Ok(with_riders(chosen, &riders))
    }

    /// Deletes the faces, then each riders table row that named one of them (only while it
    /// still names that face: a rider registered again meanwhile is kept).
    pub async fn delete_faces(&self, deletions: &[Deletion]) -> Result<Deleted> {
        let mut users: Vec<String> = deletions.iter().map(|d| d.user.clone()).collect();
        users.sort();
        users.dedup();
        let ids: Vec<String> = deletions.iter().map(|d| d.face_id.clone()).collect();
        let out = self
            .clients
            .rekognition
            .delete_faces()
            .collection_id(&self.names.collection)
            .set_face_ids(Some(ids))
            .send()
            .await
            .map_err(|e| OpsError::call(format!("deleting the faces of {}", users.join(", ")), &e))?;
        let mut riders = Vec::new();
        for d in deletions {
            let Some(rider) = &d.rider else { continue };
            let deleted = self
                .clients
                .dynamodb
                .delete_item()
                .table_name(&self.names.riders_table)
                .key("Username", AttributeValue::S(rider.clone()))
                .condition_expression("faceId = :face")
                .expression_attribute_values(":face", AttributeValue::S(d.face_id.clone()))
                .send()
                .await;
            match deleted {
                Ok(_) => riders.push(rider.clone()),
                Err(e) if e.as_service_error().is_some_and(|s| s.is_conditional_check_failed_exception()) => {}
                Err(e) => {
                    return Err(OpsError::call(
                        format!("the faces were deleted, but deleting the riders table row of {rider}"),
                        &e,
                    ));
                }
            }
        }
        Ok(Deleted { faces: out.deleted_faces().len(), users, riders })
    }
}

fn select(faces: &[FaceRow], ids: &[String], users: &[String]) -> Result<Vec<(String, String)>> {
    if ids.is_empty() && users.is_empty() {
        return Err(OpsError::NothingNamed);
    }
    let mut chosen = Vec::new();
    for id in ids {
        let face = faces.iter().find(|f| &f.face_id == id).ok_or_else(|| OpsError::NoSuchFace(id.clone()))?;
        chosen.push((face.face_id.clone(), face.user.clone()));
    }
    for user in users {
        let before = chosen.len();
        chosen.extend(faces.iter().filter(|f| &f.user == user).map(|f| (f.face_id.clone(), f.user.clone())));
        if chosen.len() == before {
            return Err(OpsError::NoFacesOfUser(user.clone()));
        }
    }
    chosen.sort();
    chosen.dedup();
    Ok(chosen)
}

fn with_riders(chosen: Vec<(String, String)>, riders: &[RiderRow]) -> Vec<Deletion> {
    chosen
        .into_iter()
        .map(|(face_id, user)| {
            let rider = riders.iter().find(|r| r.face_id == face_id).map(|r| r.user.clone());
            Deletion { face_id, user, rider }
        })
        .collect()
}

/// Joins faces linked by a match (transitively) and keeps the groups that span more than
/// one user. Faces of one user that match each other are one account, not a duplicate.
///
/// The face that stays is the registered rider's — the one the riders table points at —
/// because deleting it would leave the table naming a missing face and let the next upload
/// of that person register again. With several registered, or none, the oldest indexed stays
/// (a face with no known indexing time counts as newer), then the collection's order.
pub fn group(faces: &[FaceRow], pairs: &[(String, String, f32)], riders: &[RiderRow]) -> Vec<Group> {
    let index: HashMap<&str, usize> = faces.iter().enumerate().map(|(i, f)| (f.face_id.as_str(), i)).collect();
    let mut parent: Vec<usize> = (0..faces.len()).collect();
    fn root(parent: &mut [usize], mut i: usize) -> usize {
        while parent[i] != i {
            parent[i] = parent[parent[i]];
            i = parent[i];
        }
        i
    }
    let mut lowest: HashMap<usize, f32> = HashMap::new();
    for (a, b, similarity) in pairs {
        let (Some(&a), Some(&b)) = (index.get(a.as_str()), index.get(b.as_str())) else { continue };
        let (ra, rb) = (root(&mut parent, a), root(&mut parent, b));
        let low = lowest.get(&ra).copied().unwrap_or(f32::MAX).min(lowest.get(&rb).copied().unwrap_or(f32::MAX));
        let (keep, gone) = if ra <= rb { (ra, rb) } else { (rb, ra) };
        parent[gone] = keep;
        lowest.insert(keep, low.min(*similarity));
    }
    let mut members: Vec<(usize, Vec<usize>)> = Vec::new();
    for i in 0..faces.len() {
        let r = root(&mut parent, i);
        match members.iter_mut().find(|(root, _)| *root == r) {
            Some((_, list)) => list.push(i),
            None => members.push((r, vec![i])),
        }
    }
    let registered = |f: &FaceRow| riders.iter().any(|r| r.face_id == f.face_id);
    members
        .into_iter()
        .filter_map(|(r, list)| {
            let group: Vec<FaceRow> = list.iter().map(|&i| faces[i].clone()).collect();
            if group.iter().all(|f| f.user == group[0].user) {
                return None;
            }
            let in_table: Vec<&FaceRow> = group.iter().filter(|f| registered(f)).collect();
            let oldest = || {
                group
                    .iter()
                    .enumerate()
                    .min_by_key(|(i, f)| (f.indexed.is_empty(), f.indexed.clone(), *i))
                    .map(|(_, f)| f)
                    .expect("a group has faces")
            };
            let (keep, why) = match in_table.as_slice() {
                [one] => (one.user.clone(), "the registered rider (the riders table points at this face)".to_string()),
                [] => {
                    let f = oldest();
                    let when = if f.indexed.is_empty() {
                        "no indexing time is known".into()
                    } else {
                        format!("indexed {}", f.indexed)
                    };
                    (f.user.clone(), format!("the oldest face ({when}); none is in the riders table"))
                }
                several => {
                    let f = oldest();
                    let names: Vec<&str> = several.iter().map(|f| f.user.as_str()).collect();
                    (f.user.clone(), format!("the oldest face; {} are all in the riders table", names.join(", ")))
                }
            };
            let extra: Vec<FaceRow> = group.iter().filter(|f| f.user != keep).cloned().collect();
            let rider_rows = riders
                .iter()
                .filter(|r| extra.iter().any(|f| f.face_id == r.face_id))
                .map(|r| r.user.clone())
                .collect();
            let similarity = lowest.get(&r).copied().unwrap_or_default();
            Some(Group { keep, why, faces: group, extra, similarity, rider_rows })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn face(id: &str, user: &str, indexed: &str) -> FaceRow {
        FaceRow {
            face_id: id.into(),
            user: user.into(),
            confidence: 99.0,
            indexed: indexed.into(),
            ..Default::default()
        }
    }

    fn rider(user: &str, face: &str) -> RiderRow {
        RiderRow { user: user.into(), face_id: face.into(), photo: String::new(), thumbnail: String::new() }
    }

    #[test]
    fn the_registered_riders_face_stays_even_when_it_was_indexed_later() {
        let faces = vec![face("f1", "user_dup", ""), face("f2", "user_m", "2026-12-01 10:00:00")];
        let pairs = vec![("f1".into(), "f2".into(), 99.0)];
        let groups = group(&faces, &pairs, &[rider("user_m", "f2")]);
        assert_eq!(groups.len(), 1);
        assert_eq!(groups[0].keep, "user_m");
        assert!(groups[0].why.contains("registered rider"), "{}", groups[0].why);
        assert_eq!(groups[0].extra.iter().map(|f| f.face_id.as_str()).collect::<Vec<_>>(), vec!["f1"]);
    }

    #[test]
    fn without_a_registered_rider_the_oldest_indexed_face_stays_and_says_why() {
        let faces = vec![
            face("f1", "alice", "2026-12-01 10:00:05"),
            face("f2", "bob", "2026-12-01 10:00:01"),
            face("f3", "carol", ""),
            face("f4", "dave", "2026-12-01 09:00:00"),
        ];
        let pairs = vec![("f1".into(), "f2".into(), 97.5), ("f2".into(), "f3".into(), 91.0)];
        let groups = group(&faces, &pairs, &[]);
        assert_eq!(groups.len(), 1, "dave matches nobody");
        assert_eq!(groups[0].keep, "bob");
        assert!(groups[0].why.contains("oldest") && groups[0].why.contains("10:00:01"), "{}", groups[0].why);
        assert_eq!(groups[0].similarity, 91.0, "the weakest link is shown");
        let both = group(&faces, &pairs, &[rider("alice", "f1"), rider("carol", "f3")]);
        assert_eq!(both[0].keep, "bob", "several registered: the oldest");
        assert!(both[0].why.contains("alice, carol"), "{}", both[0].why);
    }

    #[test]
    fn two_faces_of_one_user_are_not_a_duplicate_account_and_unknown_faces_are_ignored() {
        let faces = vec![face("f1", "alice", ""), face("f2", "alice", "")];
        assert!(group(&faces, &[("f1".into(), "f2".into(), 99.0)], &[]).is_empty());
        assert!(group(&faces, &[("f1".into(), "gone".into(), 99.0)], &[]).is_empty());
    }

    #[test]
    fn deleting_selects_by_id_and_by_user_and_refuses_what_matches_nothing() {
        let faces = [face("f1", "user_a", ""), face("f2", "user_b", ""), face("f3", "user_b", "")];
        let by_user = select(&faces, &[], &["user_b".into()]).unwrap();
        assert_eq!(by_user, vec![("f2".into(), "user_b".into()), ("f3".into(), "user_b".into())]);
        let both = select(&faces, &["f1".into(), "f2".into()], &["user_b".into()]).unwrap();
        assert_eq!(both.len(), 3, "a face named twice is deleted once");
        assert!(select(&faces, &["f9".into()], &[]).unwrap_err().to_string().contains("no face f9"));
        assert!(select(&faces, &[], &["user_z".into()]).unwrap_err().to_string().contains("user_z"));
        assert!(select(&faces, &[], &[]).is_err(), "nothing named deletes nothing");
        let marked = with_riders(both, &[rider("user_b", "f2")]);
        assert_eq!(marked.iter().filter_map(|d| d.rider.as_deref()).collect::<Vec<_>>(), vec!["user_b"]);
    }
}
