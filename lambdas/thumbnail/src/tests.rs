//! The thumbnail's pure parts, on images made here: sizing, orientation, transparency and
//! the limits that keep a decompression bomb from being decoded.

use super::*;
use image::codecs::png::PngEncoder;
use image::{ImageEncoder, Rgba, RgbaImage};

fn png(image: &RgbaImage) -> Vec<u8> {
    let mut out = Vec::new();
    PngEncoder::new(&mut out)
        .write_image(image.as_raw(), image.width(), image.height(), image::ExtendedColorType::Rgba8)
        .unwrap();
    out
}

/// A JPEG of `image`, with an EXIF block giving `orientation` when there is one.
fn jpeg(image: &RgbImage, orientation: Option<u16>) -> Vec<u8> {
    let mut out = Vec::new();
    let mut encoder = JpegEncoder::new_with_quality(&mut out, 95);
    if let Some(orientation) = orientation {
        encoder.set_exif_metadata(exif_orientation(orientation)).unwrap();
    }
    encoder.write_image(image.as_raw(), image.width(), image.height(), image::ExtendedColorType::Rgb8).unwrap();
    out
}

/// A minimal big-endian TIFF block with one IFD entry: Orientation (0x0112, SHORT).
fn exif_orientation(orientation: u16) -> Vec<u8> {
    let mut tiff = b"MM\0\x2a".to_vec();
    tiff.extend_from_slice(&8u32.to_be_bytes()); // first IFD right after the header
    tiff.extend_from_slice(&1u16.to_be_bytes()); // one entry
    tiff.extend_from_slice(&0x0112u16.to_be_bytes());
    tiff.extend_from_slice(&3u16.to_be_bytes()); // SHORT
    tiff.extend_from_slice(&1u32.to_be_bytes()); // one value
    tiff.extend_from_slice(&orientation.to_be_bytes());
    tiff.extend_from_slice(&[0, 0]); // value padded to 4 bytes
    tiff.extend_from_slice(&0u32.to_be_bytes()); // no next IFD
    tiff
}

fn decoded(jpeg: &[u8]) -> DynamicImage {
    image::load_from_memory_with_format(jpeg, image::ImageFormat::Jpeg).unwrap()
}

fn close(a: Rgb<u8>, b: [u8; 3]) -> bool {
    a.0.iter().zip(b).all(|(x, y)| x.abs_diff(y) <= 40)
}

#[test]
fn fit_within_keeps_aspect_and_never_enlarges() {
    assert_eq!(fit_within(1200, 800, 300, 300), (300, 200));
    assert_eq!(fit_within(800, 1200, 300, 300), (200, 300));
    assert_eq!(fit_within(640, 480, 300, 300), (300, 225));
    assert_eq!(fit_within(300, 300, 300, 300), (300, 300));
    assert_eq!(fit_within(100, 50, 300, 300), (100, 50));
    assert_eq!(fit_within(1000, 1000, 400, 100), (100, 100));
    assert_eq!(fit_within(1001, 999, 300, 300), (300, 299));
}

#[test]
fn fit_within_keeps_extreme_shapes_at_least_one_pixel() {
    assert_eq!(fit_within(100_000, 1, 300, 300), (300, 1));
    assert_eq!(fit_within(1, 100_000, 300, 300), (1, 300));
    assert_eq!(fit_within(u32::MAX, u32::MAX, 300, 300), (300, 300));
}

#[test]
fn large_png_becomes_a_jpeg_within_the_bounds() {
    let photo = png(&RgbaImage::from_pixel(900, 600, Rgba([10, 200, 30, 255])));
    let thumb = make_thumbnail(&photo, 300, 300, &DecodeLimits::default()).unwrap();
    assert_eq!(image::guess_format(&thumb).unwrap(), image::ImageFormat::Jpeg);
    let image = decoded(&thumb);
    assert_eq!((image.width(), image.height()), (300, 200));
    assert!(close(*image.to_rgb8().get_pixel(150, 100), [10, 200, 30]));
}

#[test]
fn small_photo_is_not_enlarged() {
    let photo = jpeg(&RgbImage::from_pixel(120, 80, Rgb([200, 100, 50])), None);
    let image = decoded(&make_thumbnail(&photo, 300, 300, &DecodeLimits::default()).unwrap());
    assert_eq!((image.width(), image.height()), (120, 80));
}

#[test]
fn exif_orientation_turns_the_photo_upright() {
    // Stored landscape, left half red and right half blue, with orientation 6 ("rotate 90°
    // clockwise to display"): upright it is portrait, red on top and blue below.
    let stored = RgbImage::from_fn(80, 40, |x, _| if x < 40 { Rgb([255, 0, 0]) } else { Rgb([0, 0, 255]) });
    let photo = jpeg(&stored, Some(6));
    let image = decoded(&make_thumbnail(&photo, 300, 300, &DecodeLimits::default()).unwrap()).to_rgb8();
    assert_eq!((image.width(), image.height()), (40, 80));
    assert!(close(*image.get_pixel(20, 10), [255, 0, 0]), "top is {:?}", image.get_pixel(20, 10));
    assert!(close(*image.get_pixel(20, 70), [0, 0, 255]), "bottom is {:?}", image.get_pixel(20, 70));
}

#[test]
fn orientation_is_applied_before_fitting() {
    // 600×300 stored, portrait once turned: must fit as 150×300, not 300×150 turned.
    let photo = jpeg(&RgbImage::from_pixel(600, 300, Rgb([90, 90, 90])), Some(8));
    let image = decoded(&make_thumbnail(&photo, 300, 300, &DecodeLimits::default()).unwrap());
    assert_eq!((image.width(), image.height()), (150, 300));
}

#[test]
fn transparent_pixels_become_white() {
    let photo = png(&RgbaImage::from_fn(40, 40, |x, _| if x < 20 { Rgba([0, 0, 0, 0]) } else { Rgba([0, 0, 0, 255]) }));
    let image = decoded(&make_thumbnail(&photo, 300, 300, &DecodeLimits::default()).unwrap()).to_rgb8();
    assert!(close(*image.get_pixel(5, 20), [255, 255, 255]), "{:?}", image.get_pixel(5, 20));
    assert!(close(*image.get_pixel(35, 20), [0, 0, 0]), "{:?}", image.get_pixel(35, 20));
}

#[test]
fn decompression_bomb_is_refused_before_decoding() {
    // 4 megapixels of one colour compress to a few kilobytes; with a 1 MP limit the header
    // alone refuses it.
    let photo = png(&RgbaImage::from_pixel(2000, 2000, Rgba([255, 255, 255, 255])));
    assert!(photo.len() < 100_000, "the bomb should be small on disk: {} bytes", photo.len());
    let err = make_thumbnail(&photo, 300, 300, &DecodeLimits { max_pixels: 1_000_000, ..DecodeLimits::default() })
        .unwrap_err();
    assert!(
        matches!(err, ThumbnailError::TooManyPixels { width: 2000, height: 2000, pixels: 4_000_000, limit: 1_000_000 }),
        "{err}"
    );
    let diagnostic: Diagnostic = err.into();
    assert_eq!(diagnostic.error_type, "ImageTooLargeError");
    assert_eq!(diagnostic.error_message, "the image is 2000x2000 = 4000000 pixels, above the limit of 1000000 pixels");
}

#[test]
fn jpeg_header_claiming_billions_of_pixels_is_refused() {
    let mut photo = jpeg(&RgbImage::from_pixel(16, 16, Rgb([1, 2, 3])), None);
    // Rewrite the frame header (SOF0: FF C0, length, precision, height, width) to 60000×60000.
    let sof = photo.windows(2).position(|w| w == [0xFF, 0xC0]).unwrap();
    photo[sof + 5..sof + 7].copy_from_slice(&60000u16.to_be_bytes());
    photo[sof + 7..sof + 9].copy_from_slice(&60000u16.to_be_bytes());
    let err = make_thumbnail(&photo, 300, 300, &DecodeLimits::default()).unwrap_err();
    assert!(matches!(err, ThumbnailError::TooManyPixels { width: 60000, height: 60000, .. }), "{err}");
}

#[test]
fn png_header_claiming_billions_of_pixels_is_refused() {
    let mut photo = png(&RgbaImage::from_pixel(4, 4, Rgba([1, 2, 3, 255])));
    // IHDR is the first chunk: 8-byte signature, length, "IHDR", width, height, ..., CRC.
    photo[16..20].copy_from_slice(&100_000u32.to_be_bytes());
    photo[20..24].copy_from_slice(&100_000u32.to_be_bytes());
    let crc = crc32(&photo[12..29]);
    photo[29..33].copy_from_slice(&crc.to_be_bytes());
    let err = make_thumbnail(&photo, 300, 300, &DecodeLimits::default()).unwrap_err();
    assert!(matches!(err, ThumbnailError::TooManyPixels { width: 100_000, height: 100_000, .. }), "{err}");
}

/// CRC-32 (ISO-HDLC), as PNG chunks use.
fn crc32(bytes: &[u8]) -> u32 {
    let mut crc = 0xFFFF_FFFFu32;
    for &byte in bytes {
        crc ^= u32::from(byte);
        for _ in 0..8 {
            crc = if crc & 1 == 1 { (crc >> 1) ^ 0xEDB8_8320 } else { crc >> 1 };
        }
    }
    !crc
}

#[test]
fn text_file_is_a_decode_error() {
    let err = make_thumbnail(b"this is not a photo, just text renamed .jpg\n", 300, 300, &DecodeLimits::default())
        .unwrap_err();
    let diagnostic: Diagnostic = err.into();
    assert_eq!(diagnostic.error_type, "ImageDecodeError");
}

#[test]
fn truncated_jpeg_is_a_decode_error() {
    let photo = jpeg(&RgbImage::from_pixel(64, 64, Rgb([1, 2, 3])), None);
    assert!(matches!(make_thumbnail(&photo[..20], 300, 300, &DecodeLimits::default()), Err(ThumbnailError::Decode(_))));
}

#[test]
fn config_reads_bucket_and_bounds() {
    let lookup = |name: &str| match name {
        "THUMBNAIL_BUCKET" => Some("thumbs".to_owned()),
        "MAX_WIDTH" => Some("200".to_owned()),
        _ => None,
    };
    assert_eq!(
        Config::from_env(&lookup).unwrap(),
        Config { bucket: "thumbs".into(), max_width: 200, max_height: 300, limits: DecodeLimits::default() }
    );
}

#[test]
fn missing_bucket_and_bad_bounds_are_named() {
    let err = Config::from_env(&|_| None).unwrap_err();
    assert_eq!(err.to_string(), "environment variable THUMBNAIL_BUCKET is not set");
    let lookup = |name: &str| {
        (name == "THUMBNAIL_BUCKET").then(|| "t".to_owned()).or((name == "MAX_HEIGHT").then(|| "-3".into()))
    };
    assert!(Config::from_env(&lookup).unwrap_err().to_string().contains("MAX_HEIGHT"));
}

#[test]
fn decoded_size_is_bounded_by_the_functions_memory() {
    // 1000×1000 RGBA is 4 MB decoded: over a 3 MB budget, refused from the header.
    let photo = png(&RgbaImage::from_pixel(1000, 1000, Rgba([9, 9, 9, 255])));
    let limits = DecodeLimits { max_pixels: MAX_PIXELS, max_decoded_bytes: 3_000_000 };
    let err = make_thumbnail(&photo, 300, 300, &limits).unwrap_err();
    assert!(matches!(err, ThumbnailError::DecodedTooLarge { needed: 4_000_000, limit: 3_000_000 }), "{err}");
    assert_eq!(Diagnostic::from(err).error_type, "ImageTooLargeError");
}

#[test]
fn memory_budget_is_a_third_of_the_function_memory_capped() {
    assert_eq!(DecodeLimits::for_memory(Some(128)).max_decoded_bytes, 128 * 1024 * 1024 / 3);
    assert_eq!(DecodeLimits::for_memory(Some(10240)).max_decoded_bytes, MAX_DECODED_BYTES);
    assert_eq!(DecodeLimits::for_memory(None).max_decoded_bytes, MAX_DECODED_BYTES);
    let lookup = |name: &str| match name {
        "THUMBNAIL_BUCKET" => Some("t".to_owned()),
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE" => Some("300".to_owned()),
        _ => None,
    };
    assert_eq!(Config::from_env(&lookup).unwrap().limits.max_decoded_bytes, 100 * 1024 * 1024);
}
