//! The S3 event notification message (`{"Records": [...]}`) as S3 sends it to a Lambda
//! function, with the fields the functions read. Unknown fields are ignored, so the
//! message of any event version parses.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct S3Event {
    #[serde(rename = "Records", default)]
    pub records: Vec<S3EventRecord>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct S3EventRecord {
    #[serde(default)]
    pub event_name: String,
    #[serde(default)]
    pub aws_region: String,
    #[serde(default)]
    pub event_time: String,
    pub s3: S3Entity,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct S3Entity {
    #[serde(default)]
    pub configuration_id: Option<String>,
    pub bucket: S3Bucket,
    pub object: S3Object,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct S3Bucket {
    pub name: String,
    #[serde(default)]
    pub arn: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct S3Object {
    /// URL-encoded, as S3 sends it (space as `+`): decode with [`crate::decode_s3_key`].
    pub key: String,
    #[serde(default)]
    pub size: Option<u64>,
    #[serde(rename = "eTag", default)]
    pub e_tag: Option<String>,
    #[serde(default)]
    pub sequencer: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_message_aws_documents() {
        let message = r#"{"Records":[{"eventVersion":"2.1","eventSource":"aws:s3","awsRegion":"us-west-2",
            "eventTime":"1970-01-01T00:00:00.000Z","eventName":"ObjectCreated:Put",
            "userIdentity":{"principalId":"AIDAJDPLRKLG7UEXAMPLE"},
            "requestParameters":{"sourceIPAddress":"127.0.0.1"},
            "responseElements":{"x-amz-request-id":"C3D13FE58DE4C810","x-amz-id-2":"FMyUVURIY8/IgAtTv8xRjskZQpcIZ9KG4V5Wp6S7S/JRWeUWerMUE5JgHvANOjpD"},
            "s3":{"s3SchemaVersion":"1.0","configurationId":"testConfigRule",
              "bucket":{"name":"amzn-s3-demo-bucket","ownerIdentity":{"principalId":"A3NL1KOZZKExample"},"arn":"arn:aws:s3:::amzn-s3-demo-bucket"},
              "object":{"key":"HappyFace.jpg","size":1024,"eTag":"d41d8cd98f00b204e9800998ecf8427e","versionId":"096fKKXTRTtl3on89fVO.nfljtsv6qko","sequencer":"0055AED6DCD90281E5"}}}]}"#;
        let event: S3Event = serde_json::from_str(message).unwrap();
        let record = &event.records[0];
        assert_eq!(record.event_name, "ObjectCreated:Put");
        assert_eq!(record.s3.bucket.name, "amzn-s3-demo-bucket");
        assert_eq!(record.s3.object.key, "HappyFace.jpg");
        assert_eq!(record.s3.object.e_tag.as_deref(), Some("d41d8cd98f00b204e9800998ecf8427e"));
        assert_eq!(record.s3.object.sequencer.as_deref(), Some("0055AED6DCD90281E5"));
    }
}
