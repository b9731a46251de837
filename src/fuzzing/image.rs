//! Rekognition's image path: bytes of a photo (from an S3 object or the request) decoded
//! within the pixel limits, as DetectFaces and IndexFaces do before any model runs.

use super::Outcome;
use crate::local::rekognition::decode::{DecodeError, DecodeLimits, decode_image};

/// Tighter than the service's limits, so a mutated header that promises a large image is
/// refused quickly instead of decoding tens of megapixels per case.
const LIMITS: DecodeLimits = DecodeLimits { max_pixels: 4_000_000, max_side: 4096 };

pub fn rekognition_image(data: &[u8]) -> Outcome {
    let decoded = decode_image(data, LIMITS);
    match &decoded {
        Ok(img) => {
            let pixels = u64::from(img.width()) * u64::from(img.height());
            assert!(pixels > 0 && pixels <= LIMITS.max_pixels, "a decoded image is within the limits");
        }
        Err(DecodeError::TooLarge { width, height, .. }) => {
            assert!(
                u64::from(*width) * u64::from(*height) > LIMITS.max_pixels
                    || *width > LIMITS.max_side
                    || *height > LIMITS.max_side,
                "only an image over the limits is refused as too large"
            );
        }
        Err(DecodeError::InvalidFormat { .. }) => {}
    }
    Outcome::from(&decoded)
}
