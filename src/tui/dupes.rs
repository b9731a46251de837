//! "Find duplicates": faces of different users that SearchFaces says are one person.
//! [`group`] is pure: the pairs come from a background task, the groups go to the view.

use std::collections::HashMap;

use super::app::FaceRow;

/// One person found under more than one user id.
#[derive(Debug, Clone, PartialEq)]
pub struct Group {
    /// The account that stays: the user of the group's first face in the collection's order.
    pub keep: String,
    /// Every face of the group, in the collection's order.
    pub faces: Vec<FaceRow>,
    /// The faces of the other accounts, to delete.
    pub extra: Vec<FaceRow>,
    /// The lowest similarity that joined the group.
    pub similarity: f32,
}

/// Joins faces linked by a match (transitively) and keeps the groups that span more than
/// one user. Faces of one user that match each other are one account, not a duplicate.
pub fn group(faces: &[FaceRow], pairs: &[(String, String, f32)]) -> Vec<Group> {
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
        // The earlier face is the root, so a group's root is its first face.
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
    members
        .into_iter()
        .filter_map(|(r, list)| {
            let keep = faces[list[0]].user.clone();
            let group: Vec<FaceRow> = list.iter().map(|&i| faces[i].clone()).collect();
            let extra: Vec<FaceRow> = group.iter().filter(|f| f.user != keep).cloned().collect();
            (!extra.is_empty()).then(|| Group {
                keep,
                faces: group,
                extra,
                similarity: lowest.get(&r).copied().unwrap_or_default(),
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn face(id: &str, user: &str) -> FaceRow {
        FaceRow { face_id: id.into(), user: user.into(), confidence: 99.0, ..Default::default() }
    }

    #[test]
    fn matches_across_users_form_one_group_that_keeps_the_first_account() {
        let faces = vec![face("f1", "alice"), face("f2", "bob"), face("f3", "carol"), face("f4", "alice2")];
        let pairs =
            vec![("f1".into(), "f4".into(), 97.5), ("f4".into(), "f1".into(), 97.5), ("f4".into(), "f2".into(), 91.0)];
        let groups = group(&faces, &pairs);
        assert_eq!(groups.len(), 1, "carol matches nobody");
        let g = &groups[0];
        assert_eq!(g.keep, "alice");
        let extra: Vec<&str> = g.extra.iter().map(|f| f.user.as_str()).collect();
        assert_eq!(extra, vec!["bob", "alice2"]);
        assert_eq!(g.similarity, 91.0, "the weakest link is shown");
    }

    #[test]
    fn two_faces_of_one_user_are_not_a_duplicate_account() {
        let faces = vec![face("f1", "alice"), face("f2", "alice")];
        assert!(group(&faces, &[("f1".into(), "f2".into(), 99.0)]).is_empty());
    }

    #[test]
    fn pairs_naming_unknown_faces_are_ignored() {
        let faces = vec![face("f1", "alice")];
        assert!(group(&faces, &[("f1".into(), "gone".into(), 99.0)]).is_empty());
    }
}
