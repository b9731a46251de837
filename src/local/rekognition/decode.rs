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
    if format == ImageFormat::Jpeg {
        check_jpeg_is_complete(bytes).map_err(invalid)?;
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

/// Refuses a JPEG whose data stops before its end-of-image marker. The JPEG decoder under
/// `image` is lenient by design (a truncated file decodes to its first rows over grey, as
/// browsers show it), and its strict mode also refuses harmless quirks of camera files, so
/// this walks the marker structure itself: segments by their lengths, entropy-coded scans up
/// to the next real marker (0xFF00 is a stuffed byte, 0xFFD0–D7 are restart markers), until
/// EOI. Bytes after EOI are allowed, as every decoder allows them.
fn check_jpeg_is_complete(bytes: &[u8]) -> Result<(), String> {
    const SOS: u8 = 0xDA;
    const EOI: u8 = 0xD9;
    let truncated = || "the JPEG data ends before its end-of-image marker (the file is truncated)".to_string();
    let mut at = 2; // after SOI, which guess_format has seen
    loop {
        // The next marker: skip anything that is not 0xFF (lenient, as decoders are), then fill bytes.
        at += memchr::memchr(0xFF, bytes.get(at..).unwrap_or_default()).ok_or_else(truncated)?;
        while bytes.get(at) == Some(&0xFF) {
            at += 1;
        }
        let marker = *bytes.get(at).ok_or_else(truncated)?;
        at += 1;
        match marker {
            EOI => return Ok(()),
            // Markers without a length: SOI, TEM, RST0–7 (and a stray stuffed zero).
            0x00 | 0x01 | 0xD0..=0xD8 => continue,
            _ => {}
        }
        let length = match bytes.get(at..at + 2) {
            Some(&[hi, lo]) => usize::from(u16::from_be_bytes([hi, lo])),
            _ => return Err(truncated()),
        };
        if length < 2 {
            return Err(format!("the JPEG segment 0xFF{marker:02X} has an impossible length {length}"));
        }
        at += length;
        if at > bytes.len() {
            return Err(truncated());
        }
        if marker == SOS {
            at = end_of_entropy_coded_data(bytes, at).ok_or_else(truncated)?;
        }
    }
}

/// Where a scan's entropy-coded data ends: the position of the 0xFF that starts the next
/// marker other than a stuffed zero or a restart marker, or None if the data runs out first.
fn end_of_entropy_coded_data(bytes: &[u8], mut at: usize) -> Option<usize> {
    loop {
        at += memchr::memchr(0xFF, bytes.get(at..)?)?;
        let mut next = at + 1;
        while bytes.get(next) == Some(&0xFF) {
            next += 1;
        }
        match *bytes.get(next)? {
            0x00 | 0xD0..=0xD7 => at = next + 1,
            _ => return Some(at),
        }
    }
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

    fn small_jpeg() -> Vec<u8> {
        let mut jpeg = Vec::new();
        let img = RgbImage::from_fn(64, 48, |x, y| image::Rgb([x as u8 * 4, y as u8 * 5, 90]));
        img.write_to(&mut Cursor::new(&mut jpeg), ImageFormat::Jpeg).unwrap();
        jpeg
    }

    #[test]
    fn truncated_jpeg_is_an_invalid_format_not_its_first_rows() {
        let jpeg = small_jpeg();
        assert_eq!(decode_image(&jpeg, DecodeLimits::default()).unwrap().dimensions(), (64, 48));
        for cut in [jpeg.len() - 2, jpeg.len() * 2 / 3, jpeg.len() / 2, 200, 20, 3] {
            let err = decode_image(&jpeg[..cut], DecodeLimits::default()).unwrap_err();
            match err {
                DecodeError::InvalidFormat { detail } => {
                    assert!(detail.contains("truncated"), "cut at {cut}: {detail}")
                }
                other => panic!("cut at {cut}: {other:?}"),
            }
        }
    }

    #[test]
    fn jpeg_with_bytes_after_its_end_marker_still_decodes() {
        let mut jpeg = small_jpeg();
        jpeg.extend_from_slice(b"trailing bytes some cameras append");
        assert_eq!(decode_image(&jpeg, DecodeLimits::default()).unwrap().dimensions(), (64, 48));
    }

    #[test]
    fn every_committed_selfie_passes_the_jpeg_structure_check() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("assets/selfies");
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.extension().is_some_and(|e| e == "jpg") {
                let bytes = std::fs::read(&path).unwrap();
                assert_eq!(check_jpeg_is_complete(&bytes), Ok(()), "{}", path.display());
            }
        }
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
