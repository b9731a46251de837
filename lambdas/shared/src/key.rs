//! S3 object keys arrive URL-encoded when they come from an S3 event notification
//! (`my+photo%C3%A9.jpg`); the workshop's functions decode them before use, and so do we.

use std::borrow::Cow;

use crate::error::InputError;

/// Decodes an S3 key as S3 event notifications encode it: `+` is a space, `%xx` a byte.
///
/// A `%` that does not start a valid escape is kept as it is (as Python's `unquote_plus`
/// does), so a key that was never encoded and merely contains `%` still works. Bytes that
/// do not form UTF-8 after decoding cannot name an S3 object, so they are an error.
pub fn decode_s3_key(key: &str) -> Result<String, InputError> {
    let spaced: Cow<'_, str> = if key.contains('+') { Cow::Owned(key.replace('+', " ")) } else { Cow::Borrowed(key) };
    let decoded = percent_encoding::percent_decode_str(&spaced)
        .decode_utf8()
        .map_err(|_| InputError::new(format!("s3Key {key:?} is not valid UTF-8 once URL-decoded")))?;
    if decoded.is_empty() {
        return Err(InputError::new("s3Key is empty"));
    }
    Ok(decoded.into_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plus_decodes_to_space() {
        assert_eq!(decode_s3_key("my+happy+face.jpg").unwrap(), "my happy face.jpg");
    }

    #[test]
    fn percent_escapes_decode_to_utf8() {
        assert_eq!(decode_s3_key("uploads/user_a/caf%C3%A9%2B1.jpg").unwrap(), "uploads/user_a/café+1.jpg");
    }

    #[test]
    fn plain_key_is_unchanged() {
        assert_eq!(decode_s3_key("rider-selfie.jpg").unwrap(), "rider-selfie.jpg");
    }

    #[test]
    fn invalid_escape_is_kept_literally() {
        assert_eq!(decode_s3_key("100%.jpg").unwrap(), "100%.jpg");
        assert_eq!(decode_s3_key("a%zzb.jpg").unwrap(), "a%zzb.jpg");
    }

    #[test]
    fn invalid_utf8_after_decoding_is_an_input_error() {
        let err = decode_s3_key("bad%FF.jpg").unwrap_err();
        assert!(err.to_string().contains("bad%FF.jpg"), "{err}");
    }

    #[test]
    fn empty_key_is_an_input_error() {
        assert!(decode_s3_key("").is_err());
    }
}
