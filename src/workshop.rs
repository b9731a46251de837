//! The workshop's resources in one place for deploy, the CLI and the dashboard: their
//! names (fixed locally; on AWS bucket names are global, so they carry the account and
//! region), the six functions and the upload trigger, the four state machine definitions and the test selfies.
//! The definitions and selfies are compiled in, so the binary deploys the workshop from
//! anywhere, not only from a checkout.

use std::collections::BTreeMap;

/// The Rekognition collection of the workshop (the workshop's step 1).
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

/// One of the workshop's six functions: the binary (and crate) that implements it and the
/// CloudFormation output that names its ARN in the state machine definitions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FunctionSpec {
    pub binary: &'static str,
    pub output: &'static str,
}

impl FunctionSpec {
    /// The name the function is deployed under.
    pub fn function_name(&self) -> String {
        format!("wildrydes-{}", self.binary)
    }
}

pub const FUNCTIONS: [FunctionSpec; 6] = [
    FunctionSpec { binary: "face-detection", output: "FaceDetectionFunctionArn" },
    FunctionSpec { binary: "notification", output: "NotificationPlaceholderFunctionArn" },
    FunctionSpec { binary: "face-search", output: "FaceSearchFunctionArn" },
    FunctionSpec { binary: "index-face", output: "IndexFaceFunctionArn" },
    FunctionSpec { binary: "thumbnail", output: "ThumbnailFunctionArn" },
    FunctionSpec { binary: "persist-metadata", output: "PersistMetadataFunctionArn" },
];

/// The upload trigger (`lambdas/upload-trigger`): started by S3 for each photo put under
/// [`UPLOAD_PREFIX`], it starts [`TRIGGERED_STATE_MACHINE`]. Apart from [`FUNCTIONS`]: no
/// state machine names it.
pub const UPLOAD_TRIGGER: FunctionSpec = FunctionSpec { binary: "upload-trigger", output: "UploadTriggerFunctionArn" };
/// Where riders upload: `uploads/<userId>/<file>` in the rider photo bucket.
pub const UPLOAD_PREFIX: &str = "uploads/";
/// The state machine an upload starts: the workshop's newest step.
pub const TRIGGERED_STATE_MACHINE: &str = "RiderPhotoProcessing-4";
/// The Id of the photo bucket's notification configuration that deploy manages.
pub const UPLOAD_NOTIFICATION_ID: &str = "wildrydes-upload-trigger";

/// The workshop's four state machines (`statemachine/*.asl.json`), with `${…}` placeholders.
pub const STATE_MACHINES: [(&str, &str); 4] = [
    ("RiderPhotoProcessing-1", include_str!("../statemachine/RiderPhotoProcessing-1.asl.json")),
    ("RiderPhotoProcessing-2", include_str!("../statemachine/RiderPhotoProcessing-2.asl.json")),
    ("RiderPhotoProcessing-3", include_str!("../statemachine/RiderPhotoProcessing-3.asl.json")),
    ("RiderPhotoProcessing-4", include_str!("../statemachine/RiderPhotoProcessing-4.asl.json")),
];

/// The test selfies (`assets/selfies/`, licences in its MANIFEST.tsv), named as the
/// workshop names them so its inputs work as written.
pub const SELFIES: [(&str, &[u8]); 7] = [
    ("1_happy_face.jpg", include_bytes!("../assets/selfies/1_happy_face.jpg")),
    ("2_sunglass_face.jpg", include_bytes!("../assets/selfies/2_sunglass_face.jpg")),
    ("3_multiple_faces.jpg", include_bytes!("../assets/selfies/3_multiple_faces.jpg")),
    ("4_no_face.jpg", include_bytes!("../assets/selfies/4_no_face.jpg")),
    ("4_no_face_coffee.jpg", include_bytes!("../assets/selfies/4_no_face_coffee.jpg")),
    ("5_same_person_1.jpg", include_bytes!("../assets/selfies/5_same_person_1.jpg")),
    ("6_same_person_2.jpg", include_bytes!("../assets/selfies/6_same_person_2.jpg")),
];

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum SubstitutionError {
    #[error("the definition names ${{{0}}}, which deploy has no value for")]
    Unknown(String),
    #[error("the definition has a `${{` without a closing `}}`")]
    Unclosed,
}

/// Replaces every `${Name}` in a definition with its value (CloudFormation's
/// DefinitionSubstitutions); a name without a value is an error, never left in place.
pub fn substitute(template: &str, values: &BTreeMap<String, String>) -> Result<String, SubstitutionError> {
    let mut out = String::with_capacity(template.len());
    let mut rest = template;
    while let Some(start) = rest.find("${") {
        out.push_str(&rest[..start]);
        let after = &rest[start + 2..];
        let end = after.find('}').ok_or(SubstitutionError::Unclosed)?;
        let name = &after[..end];
        let value = values.get(name).ok_or_else(|| SubstitutionError::Unknown(name.to_string()))?;
        out.push_str(value);
        rest = &after[end + 1..];
    }
    out.push_str(rest);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_placeholder_of_every_state_machine_is_a_function_output() {
        let values: BTreeMap<String, String> =
            FUNCTIONS.iter().map(|f| (f.output.to_string(), format!("arn:{}", f.binary))).collect();
        for (name, template) in STATE_MACHINES {
            let definition = substitute(template, &values).unwrap_or_else(|e| panic!("{name}: {e}"));
            assert!(!definition.contains("${"), "{name}");
            serde_json::from_str::<serde_json::Value>(&definition).unwrap_or_else(|e| panic!("{name}: {e}"));
        }
    }

    #[test]
    fn substitution_refuses_unknown_and_unclosed_placeholders() {
        let values = BTreeMap::from([("A".to_string(), "1".to_string())]);
        assert_eq!(substitute("x${A}y${A}", &values).as_deref(), Ok("x1y1"));
        assert_eq!(substitute("${B}", &values), Err(SubstitutionError::Unknown("B".into())));
        assert_eq!(substitute("${A", &values), Err(SubstitutionError::Unclosed));
    }

    #[test]
    fn the_compiled_in_selfies_are_every_photo_in_assets_selfies() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("assets/selfies");
        let mut on_disk: Vec<String> = std::fs::read_dir(dir)
            .expect("assets/selfies")
            .filter_map(|e| e.ok()?.file_name().into_string().ok())
            .filter(|name| name.ends_with(".jpg") || name.ends_with(".png"))
            .collect();
        on_disk.sort();
        let mut compiled: Vec<String> = SELFIES.iter().map(|(name, _)| name.to_string()).collect();
        compiled.sort();
        assert_eq!(compiled, on_disk);
    }

    #[test]
    fn uploads_start_the_newest_state_machine() {
        assert_eq!(STATE_MACHINES.last().map(|(name, _)| *name), Some(TRIGGERED_STATE_MACHINE));
        assert!(!FUNCTIONS.contains(&UPLOAD_TRIGGER), "no state machine names the trigger");
    }

    #[test]
    fn aws_bucket_names_are_unique_per_account_and_region() {
        let names = WorkshopNames::for_account("123456789012", "eu-west-1");
        assert_eq!(names.photo_bucket, "wildrydes-riderphotos-123456789012-eu-west-1");
        assert_eq!(names.collection, "rider-photos");
        assert!(names.photo_bucket.len() <= 63, "S3 bucket names are at most 63 characters");
    }
}
