//! S3's rules for general-purpose bucket names, checked on every request that names a
//! bucket (s3s calls [`BucketNames`] while parsing the path), so a name S3 would refuse
//! never reaches storage.

/// Whether `name` is a valid general-purpose bucket name, per
/// <https://docs.aws.amazon.com/AmazonS3/latest/userguide/bucketnamingrules.html>.
pub fn is_valid_bucket_name(name: &str) -> bool {
    let bytes = name.as_bytes();
    if !(3..=63).contains(&bytes.len()) {
        return false;
    }
    if !bytes.iter().all(|&b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'.' || b == b'-') {
        return false;
    }
    let alnum = |b: Option<&u8>| b.is_some_and(|b| b.is_ascii_lowercase() || b.is_ascii_digit());
    if !alnum(bytes.first()) || !alnum(bytes.last()) {
        return false;
    }
    if name.contains("..") || looks_like_ipv4(name) {
        return false;
    }
    const RESERVED_PREFIXES: [&str; 3] = ["xn--", "sthree-", "amzn-s3-demo-"];
    const RESERVED_SUFFIXES: [&str; 5] = ["-s3alias", "--ol-s3", ".mrap", "--x-s3", "--table-s3"];
    !RESERVED_PREFIXES.iter().any(|p| name.starts_with(p)) && !RESERVED_SUFFIXES.iter().any(|s| name.ends_with(s))
}

/// "Bucket names must not be formatted as an IP address (for example, 192.168.5.4)."
fn looks_like_ipv4(name: &str) -> bool {
    let parts: Vec<&str> = name.split('.').collect();
    parts.len() == 4 && parts.iter().all(|p| !p.is_empty() && p.len() <= 3 && p.bytes().all(|b| b.is_ascii_digit()))
}

/// The validation s3s applies while parsing request paths and hosts.
pub struct BucketNames;

impl s3s::validation::NameValidation for BucketNames {
    fn validate_bucket_name(&self, name: &str) -> bool {
        is_valid_bucket_name(name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_ordinary_names() {
        for name in ["abc", "rider-photos", "my.bucket.name", "a1-b2", "123", &"a".repeat(63)] {
            assert!(is_valid_bucket_name(name), "{name}");
        }
    }

    #[test]
    fn refuses_what_s3_refuses() {
        let long = "a".repeat(64);
        let bad = [
            "ab",
            long.as_str(),
            "Upper",
            "under_score",
            "-leading",
            "trailing-",
            ".dot",
            "dot.",
            "two..dots",
            "192.168.5.4",
            "xn--punycode",
            "sthree-bucket",
            "amzn-s3-demo-bucket",
            "bucket-s3alias",
            "bucket--ol-s3",
            "bucket.mrap",
            "bucket--x-s3",
            "bucket--table-s3",
            "spa ce",
            "ünicode",
            "",
        ];
        for name in bad {
            assert!(!is_valid_bucket_name(name), "{name:?} should be refused");
        }
    }
}
