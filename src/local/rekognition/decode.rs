//! Image bytes → upright RGB pixels, refusing what Rekognition refuses: anything but JPEG
//! or PNG, corrupt data, and images whose header promises more pixels than the limit
//! (checked before a single pixel is decoded, so a decompression bomb costs nothing).

use std::io::Cursor;

use image::{DynamicImage, ImageDecoder, ImageFormat, ImageReader, Limits, RgbImage};

/// Rekognition's own ceiling for an image side is far above what a selfie needs; 40
/// megapixels (e.g. 8000×5000) keeps the worst decode under ~120 MB of RGB.
pub const DEFAULT_MAX_PIXELS: u64 = 40_000_000;
pub const DEFAULT_MAX_SIDE: u32 = 16_384;

#[derive(Debug, thiserror::Error)]
pub enum DecodeError {
    /// Not a JPEG or PNG, or a JPEG/PNG that does not decode. AWS: InvalidImageFormatException.
    #[error("Request has invalid image format")]
    InvalidFormat { detail: String },
    /// More pixels than the limit. AWS: ImageTooLargeException.
    #[error("Image size is too large: {width}x{height} pixels exceeds the limit of {limit} pixels")]
    TooLarge { width: u32, height: u32, limit: u64 },
}

#[derive(Debug, Clone, Copy)]
pub struct DecodeLimits {
    pub max_pixels: u64,
    pub max_side: u32,
}

impl Default for DecodeLimits {
    fn default() -> Self {
        Self { max_pixels: DEFAULT_MAX_PIXELS, max_side: DEFAULT_MAX_SIDE }
    }
}

/// Decodes JPEG or PNG bytes into RGB with the EXIF orientation applied.
pub fn decode_image(bytes: &[u8], limits: DecodeLimits) -> Result<RgbImage, DecodeError> {
    let invalid = |detail: String| DecodeError::InvalidFormat { detail };
    // The format comes from the magic bytes, never from a name or a content type.
    let format = image::guess_format(bytes).map_err(|e| invalid(e.to_string()))?;
    if !matches!(format, ImageFormat::Jpeg | ImageFormat::Png) {
        return Err(invalid(format!("{format:?} is not JPEG or PNG")));
    }
    let mut reader = ImageReader::with_format(Cursor::new(bytes), format);
    // The decoder's own allocation cap stays on as a second fence behind the header check.
    reader.limits(Limits::default());
    let mut decoder = reader.into_decoder().map_err(|e| invalid(e.to_string()))?;
    let (width, height) = decoder.dimensions();
    if width == 0 || height == 0 {
        return Err(invalid("image has no pixels".into()));
    }
    if u64::from(width) * u64::from(height) > limits.max_pixels || width > limits.max_side || height > limits.max_side {
        return Err(DecodeError::TooLarge { width, height, limit: limits.max_pixels });
    }
    let orientation = decoder.orientation().map_err(|e| invalid(e.to_string()))?;
    let mut img = DynamicImage::from_decoder(decoder).map_err(|e| invalid(e.to_string()))?;
    img.apply_orientation(orientation);
    Ok(img.into_rgb8())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn garbage_bytes_are_an_invalid_format_not_a_panic() {
        for bytes in [&b""[..], b"hello, this is not an image", &[0xFF, 0xD8, 0xFF, 0xE0, 0, 0x10, b'J'][..]] {
            let err = decode_image(bytes, DecodeLimits::default()).unwrap_err();
            assert!(matches!(err, DecodeError::InvalidFormat { .. }), "{err:?}");
        }
    }

    #[test]
    fn truncated_png_is_an_invalid_format() {
        let mut png = Vec::new();
        let img = RgbImage::from_pixel(64, 64, image::Rgb([10, 200, 30]));
        img.write_to(&mut Cursor::new(&mut png), ImageFormat::Png).unwrap();
        let err = decode_image(&png[..png.len() / 2], DecodeLimits::default()).unwrap_err();
        assert!(matches!(err, DecodeError::InvalidFormat { .. }), "{err:?}");
    }

    #[test]
    fn images_over_the_pixel_limit_are_refused_before_decoding() {
        let mut png = Vec::new();
        let img = RgbImage::from_pixel(300, 200, image::Rgb([0, 0, 0]));
        img.write_to(&mut Cursor::new(&mut png), ImageFormat::Png).unwrap();
        let limits = DecodeLimits { max_pixels: 50_000, max_side: 16_384 };
        let err = decode_image(&png, limits).unwrap_err();
        assert!(matches!(err, DecodeError::TooLarge { width: 300, height: 200, .. }), "{err:?}");
        assert_eq!(decode_image(&png, DecodeLimits::default()).unwrap().dimensions(), (300, 200));
    }

    #[test]
    fn other_formats_are_refused_by_their_magic_bytes() {
        let gif = b"GIF89a\x01\x00\x01\x00\x00\x00\x00;";
        let err = decode_image(gif, DecodeLimits::default()).unwrap_err();
        assert!(matches!(err, DecodeError::InvalidFormat { .. }), "{err:?}");
    }
}
