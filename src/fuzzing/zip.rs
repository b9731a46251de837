//! Lambda function code: a zip unpacked as CreateFunction unpacks it. Whatever the bytes,
//! nothing may land outside the destination and no symlink may be created.

use std::path::Path;

use super::Outcome;
use crate::local::lambda::code;

pub fn lambda_zip(data: &[u8]) -> Outcome {
    let root = tempfile::tempdir().expect("a temporary directory");
    let dest = root.path().join("code");
    let unpacked = code::unpack(data, &dest);
    assert_eq!(unpacked.is_ok(), code::check(data).is_ok(), "check and unpack agree on the same bytes");
    // Only the destination may exist in the scratch directory, whatever happened.
    for entry in std::fs::read_dir(root.path()).expect("the scratch directory").flatten() {
        assert_eq!(entry.path(), dest, "a zip wrote outside its destination: {}", entry.path().display());
    }
    if unpacked.is_ok() {
        assert_contained(&dest);
    }
    Outcome::from(&unpacked)
}

fn assert_contained(dir: &Path) {
    for entry in std::fs::read_dir(dir).expect("an unpacked directory").flatten() {
        let kind = entry.file_type().expect("a file type");
        assert!(!kind.is_symlink(), "a zip created a symlink: {}", entry.path().display());
        if kind.is_dir() {
            assert_contained(&entry.path());
        }
    }
}
