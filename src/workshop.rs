//! The names of the workshop's resources, in one place for deploy, the CLI and the
//! dashboard. Locally they are fixed; on AWS bucket names are global, so they carry the
//! account and region.

/// The Rekognition collection of the workshop (seed step 1).
pub const COLLECTION_ID: &str = "rider-photos";
/// The state machines of the workshop's four steps: `RiderPhotoProcessing-1` … `-4`.
pub const STATE_MACHINE_PREFIX: &str = "RiderPhotoProcessing-";

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WorkshopNames {
    pub collection: String,
    pub photo_bucket: String,
    pub thumbnail_bucket: String,
    pub riders_table: String,
}

impl WorkshopNames {
    /// The names on the local cloud.
    pub fn local() -> Self {
        Self {
            collection: COLLECTION_ID.into(),
            photo_bucket: "wildrydes-riderphotos".into(),
            thumbnail_bucket: "wildrydes-thumbnails".into(),
            riders_table: "wildrydes-riders".into(),
        }
    }

    /// The names in an AWS account: S3 bucket names are shared by every account on AWS.
    pub fn for_account(account_id: &str, region: &str) -> Self {
        let local = Self::local();
        Self {
            photo_bucket: format!("{}-{account_id}-{region}", local.photo_bucket),
            thumbnail_bucket: format!("{}-{account_id}-{region}", local.thumbnail_bucket),
            ..local
        }
    }

    pub fn state_machine(step: u8) -> String {
        format!("{STATE_MACHINE_PREFIX}{step}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn aws_bucket_names_are_unique_per_account_and_region() {
        let names = WorkshopNames::for_account("123456789012", "eu-west-1");
        assert_eq!(names.photo_bucket, "wildrydes-riderphotos-123456789012-eu-west-1");
        assert_eq!(names.collection, "rider-photos");
        assert!(names.photo_bucket.len() <= 63, "S3 bucket names are at most 63 characters");
    }
}
