//! Object tagging: Put/Get/DeleteObjectTagging, and the tags a write names in
//! `x-amz-tagging` (PutObject, CreateMultipartUpload, CopyObject with the REPLACE tagging
//! directive), checked against AWS's limits: at most 10 tags, keys of 1 to 128 and values
//! of at most 256 Unicode characters, of letters, digits, spaces and `+ - = . _ : / @`,
//! no key twice, none starting with `aws:`.

use percent_encoding::percent_decode_str;
use s3s::dto::*;
use s3s::{S3ErrorCode, S3Request, S3Response, S3Result, s3_error};

use super::Backend;

/// S3's limit on tags per object.
const MAX_TAGS: usize = 10;
const MAX_KEY_CHARS: usize = 128;
const MAX_VALUE_CHARS: usize = 256;

fn invalid_tag(message: &str) -> s3s::S3Error {
    s3_error!(InvalidTag, "{message}")
}

fn allowed(c: char) -> bool {
    c.is_alphanumeric() || c.is_whitespace() || "+-=._:/@".contains(c)
}

/// Checks a tag set as S3 does and returns it.
pub(super) fn checked(tags: Vec<(String, String)>) -> S3Result<Vec<(String, String)>> {
    if tags.len() > MAX_TAGS {
        let mut err = s3s::S3Error::with_message(
            S3ErrorCode::Custom("BadRequest".into()),
            "Object tags cannot be greater than 10",
        );
        err.set_status_code(http::StatusCode::BAD_REQUEST);
        return Err(err);
    }
    for (i, (key, value)) in tags.iter().enumerate() {
        if key.chars().count() > MAX_KEY_CHARS {
            return Err(invalid_tag("The TagKey you have provided is too long, max 128"));
        }
        if value.chars().count() > MAX_VALUE_CHARS {
            return Err(invalid_tag("The TagValue you have provided is too long, max 256"));
        }
        if key.is_empty() || !key.chars().all(allowed) {
            return Err(invalid_tag("The TagKey you have provided is invalid"));
        }
        if !value.chars().all(allowed) {
            return Err(invalid_tag("The TagValue you have provided is invalid"));
        }
        if key.starts_with("aws:") {
            return Err(invalid_tag("Your TagKey cannot be prefixed with aws:"));
        }
        if tags[..i].iter().any(|(earlier, _)| earlier == key) {
            return Err(invalid_tag("Cannot provide multiple Tags with the same key"));
        }
    }
    Ok(tags)
}

/// The tags of an `x-amz-tagging` header: a URL query string (`k1=v1&k2=v2`).
pub(super) fn from_header(header: Option<&str>) -> S3Result<Vec<(String, String)>> {
    let Some(header) = header.filter(|h| !h.is_empty()) else { return Ok(Vec::new()) };
    let decode = |s: &str| {
        percent_decode_str(&s.replace('+', " "))
            .decode_utf8()
            .map(|d| d.into_owned())
            .map_err(|_| invalid_tag("The header 'x-amz-tagging' shall be encoded as UTF-8 then URLEncoded URL query parameters without tag name duplicates."))
    };
    let mut tags = Vec::new();
    for pair in header.split('&').filter(|p| !p.is_empty()) {
        let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
        tags.push((decode(key)?, decode(value)?));
    }
    checked(tags)
}

fn from_tag_set(set: TagSet) -> S3Result<Vec<(String, String)>> {
    checked(set.into_iter().map(|t| (t.key.unwrap_or_default(), t.value.unwrap_or_default())).collect())
}

/// `x-amz-tagging-count`: present only when the object has tags.
pub(super) fn count(tags: &[(String, String)]) -> Option<i32> {
    (!tags.is_empty()).then(|| i32::try_from(tags.len()).unwrap_or(i32::MAX))
}

/// Versions are not kept: the one version an object has is `null`.
fn check_version(version_id: Option<&str>) -> S3Result<()> {
    match version_id {
        None | Some("null") => Ok(()),
        Some(_) => Err(s3_error!(InvalidArgument, "Invalid version id specified")),
    }
}

impl Backend {
    pub(super) async fn put_tags(
        &self,
        req: S3Request<PutObjectTaggingInput>,
    ) -> S3Result<S3Response<PutObjectTaggingOutput>> {
        let input = req.input;
        check_version(input.version_id.as_deref())?;
        let tags = from_tag_set(input.tagging.tag_set)?;
        self.objects.set_tags(&input.bucket, &input.key, tags).await?;
        Ok(S3Response::new(PutObjectTaggingOutput::default()))
    }

    pub(super) async fn get_tags(
        &self,
        req: S3Request<GetObjectTaggingInput>,
    ) -> S3Result<S3Response<GetObjectTaggingOutput>> {
        let input = req.input;
        check_version(input.version_id.as_deref())?;
        let info = self.objects.head(&input.bucket, &input.key).await?;
        let tag_set = info.tags.into_iter().map(|(key, value)| Tag { key: Some(key), value: Some(value) }).collect();
        Ok(S3Response::new(GetObjectTaggingOutput { tag_set, version_id: None }))
    }

    pub(super) async fn delete_tags(
        &self,
        req: S3Request<DeleteObjectTaggingInput>,
    ) -> S3Result<S3Response<DeleteObjectTaggingOutput>> {
        let input = req.input;
        check_version(input.version_id.as_deref())?;
        self.objects.set_tags(&input.bucket, &input.key, Vec::new()).await?;
        Ok(S3Response::with_status(DeleteObjectTaggingOutput::default(), http::StatusCode::NO_CONTENT))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pairs(list: &[(&str, &str)]) -> Vec<(String, String)> {
        list.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    #[test]
    fn the_tagging_header_is_a_url_query() {
        let tags = from_header(Some("rider=user_a&note=two+words%2Fslash&empty=")).unwrap();
        assert_eq!(tags, pairs(&[("rider", "user_a"), ("note", "two words/slash"), ("empty", "")]));
        assert!(from_header(None).unwrap().is_empty());
    }

    #[test]
    fn tags_are_checked_against_s3s_limits() {
        let code = |tags: Vec<(String, String)>| checked(tags).unwrap_err().code().as_str().to_string();
        let eleven: Vec<(String, String)> = (0..11).map(|i| (format!("k{i}"), "v".into())).collect();
        assert_eq!(code(eleven), "BadRequest");
        assert_eq!(code(vec![("k".repeat(129), "v".into())]), "InvalidTag");
        assert_eq!(code(vec![("k".into(), "v".repeat(257))]), "InvalidTag");
        assert_eq!(code(pairs(&[("k", "1"), ("k", "2")])), "InvalidTag");
        assert_eq!(code(pairs(&[("aws:x", "1")])), "InvalidTag");
        assert_eq!(code(pairs(&[("", "1")])), "InvalidTag");
        assert_eq!(code(pairs(&[("a*b", "1")])), "InvalidTag");
        assert!(checked(vec![("k".repeat(128), "é".repeat(256))]).is_ok());
    }
}
