//! Thumbnail: reads the rider photo from S3, turns it upright (EXIF orientation), shrinks it
//! to fit `MAX_WIDTH`×`MAX_HEIGHT` (default 300×300) keeping its aspect ratio, and writes it
//! as JPEG to `THUMBNAIL_BUCKET` under the photo's own key. Returns
//! `{"thumbnail": {"s3bucket": …, "s3key": …}}`.
//!
//! Decoding is bounded: the photo's size in bytes, its pixel count and the size of the
//! decoded image (both checked from the header, before any pixel is decoded; the latter
//! against the function's memory) all have limits, so a decompression bomb is a clear error
//! and never exhausts the function's memory.

use std::io::Cursor;

use aws_sdk_s3::Client;
use aws_sdk_s3::primitives::ByteStream;
use image::codecs::jpeg::JpegEncoder;
use image::{DynamicImage, ImageDecoder, ImageReader, Limits, Rgb, RgbImage};
use lambda_runtime::Diagnostic;
use serde_json::Value;
use thiserror::Error;
use wildrydes_lambda_shared::env::{self, Lookup};
use wildrydes_lambda_shared::{AwsError, ConfigError, InputError, PhotoInput, ThumbnailLocation, ThumbnailResult};

/// Rekognition reads S3 images up to 15 MB; a photo that passed FaceDetection is no larger.
pub const MAX_SOURCE_BYTES: u64 = 15 * 1024 * 1024;
/// 50 megapixels: above the 48 MP of current phone cameras, and small enough (150 MB as RGB)
/// to decode within a Lambda's memory.
pub const MAX_PIXELS: u64 = 50_000_000;
/// The most a decoded image may take, whatever the function's memory.
pub const MAX_DECODED_BYTES: u64 = 256 * 1024 * 1024;
/// JPEG quality of the thumbnails.
pub const JPEG_QUALITY: u8 = 85;
/// The workshop's thumbnail size.
pub const DEFAULT_MAX_SIDE: u32 = 300;

pub const IMAGE_TOO_LARGE: &str = "ImageTooLargeError";
pub const IMAGE_DECODE: &str = "ImageDecodeError";
pub const THUMBNAIL_FAILED: &str = "ThumbnailError";

#[derive(Debug, Error)]
pub enum ThumbnailError {
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error(transparent)]
    Input(#[from] InputError),
    #[error(transparent)]
    Aws(#[from] AwsError),
    #[error("the photo is {size} bytes, above the limit of {limit} bytes")]
    SourceTooLarge { size: u64, limit: u64 },
    #[error("the image is {width}x{height} = {pixels} pixels, above the limit of {limit} pixels")]
    TooManyPixels { width: u32, height: u32, pixels: u64, limit: u64 },
    #[error("the decoded image would take {needed} bytes, above this function's limit of {limit} bytes")]
    DecodedTooLarge { needed: u64, limit: u64 },
    #[error("the image needs more memory to decode than the limit allows: {0}")]
    DecoderLimit(String),
    #[error("the photo could not be decoded as JPEG or PNG: {0}")]
    Decode(String),
    #[error("reading the photo from S3 failed: {0}")]
    Read(String),
    #[error("the thumbnail could not be made: {0}")]
    Internal(String),
}

impl From<ThumbnailError> for Diagnostic {
    fn from(error: ThumbnailError) -> Self {
        let error_type = match error {
            ThumbnailError::Config(e) => return e.into(),
            ThumbnailError::Input(e) => return e.into(),
            ThumbnailError::Aws(e) => return e.into(),
            ThumbnailError::SourceTooLarge { .. }
            | ThumbnailError::TooManyPixels { .. }
            | ThumbnailError::DecodedTooLarge { .. }
            | ThumbnailError::DecoderLimit(_) => IMAGE_TOO_LARGE,
            ThumbnailError::Decode(_) => IMAGE_DECODE,
            ThumbnailError::Read(_) | ThumbnailError::Internal(_) => THUMBNAIL_FAILED,
        };
        Diagnostic { error_type: error_type.into(), error_message: error.to_string() }
    }
}

/// The function's settings, from its environment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    pub bucket: String,
    pub max_width: u32,
    pub max_height: u32,
    pub limits: DecodeLimits,
}

/// How large an image may be decoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DecodeLimits {
    pub max_pixels: u64,
    /// Bytes of the decoded image (width × height × bytes per pixel).
    pub max_decoded_bytes: u64,
}

impl Default for DecodeLimits {
    fn default() -> Self {
        Self { max_pixels: MAX_PIXELS, max_decoded_bytes: MAX_DECODED_BYTES }
    }
}

impl DecodeLimits {
    /// Limits for a function with `memory_mb` of memory: the decoded image gets a third of it,
    /// as turning it upright may copy it once more, and the photo's bytes, the runtime and
    /// the thumbnail need the rest.
    pub fn for_memory(memory_mb: Option<u32>) -> Self {
        let budget = memory_mb.map_or(MAX_DECODED_BYTES, |mb| (u64::from(mb) * 1024 * 1024 / 3).min(MAX_DECODED_BYTES));
        Self { max_pixels: MAX_PIXELS, max_decoded_bytes: budget }
    }
}

impl Config {
    pub fn from_env(lookup: Lookup<'_>) -> Result<Self, ConfigError> {
        Ok(Self {
            bucket: env::required(lookup, "THUMBNAIL_BUCKET")?,
            max_width: env::positive_u32_or(lookup, "MAX_WIDTH", DEFAULT_MAX_SIDE)?,
            max_height: env::positive_u32_or(lookup, "MAX_HEIGHT", DEFAULT_MAX_SIDE)?,
            // Set by Lambda (and by the local cloud) for every function.
            limits: DecodeLimits::for_memory(
                env::optional(lookup, "AWS_LAMBDA_FUNCTION_MEMORY_SIZE").and_then(|mb| mb.parse().ok()),
            ),
        })
    }
}

/// The Lambda handler: the event is the execution's state, `lookup` the environment.
pub async fn handle(client: &Client, lookup: Lookup<'_>, event: Value) -> Result<Value, ThumbnailError> {
    let config = Config::from_env(lookup)?;
    let input = PhotoInput::from_event(event)?;
    let key = input.object_key()?;
    tracing::info!(user = %input.user_id, bucket = %input.s3_bucket, key = %key, "making the thumbnail");

    let photo = read_object(client, &input.s3_bucket, &key).await?;
    let (max_width, max_height, limits) = (config.max_width, config.max_height, config.limits);
    // Decoding is CPU-bound: off the async runtime's threads.
    let jpeg = tokio::task::spawn_blocking(move || make_thumbnail(&photo, max_width, max_height, &limits))
        .await
        .map_err(|e| ThumbnailError::Internal(e.to_string()))??;

    // The photo's own key in the thumbnail bucket: one thumbnail per photo, found from the
    // photo without a lookup. The bytes are JPEG whatever the key's extension says, and the
    // Content-Type says so.
    client
        .put_object()
        .bucket(&config.bucket)
        .key(&key)
        .content_type("image/jpeg")
        .body(ByteStream::from(jpeg))
        .send()
        .await
        .map_err(|err| AwsError::from_sdk("PutObject", &err))?;

    let result = ThumbnailResult { thumbnail: ThumbnailLocation { s3bucket: config.bucket, s3key: key } };
    serde_json::to_value(result).map_err(|e| ThumbnailError::Internal(e.to_string()))
}

/// The object's bytes, refusing (before reading) anything above [`MAX_SOURCE_BYTES`].
async fn read_object(client: &Client, bucket: &str, key: &str) -> Result<Vec<u8>, ThumbnailError> {
    let output = client
        .get_object()
        .bucket(bucket)
        .key(key)
        .send()
        .await
        .map_err(|err| AwsError::from_sdk("GetObject", &err))?;
    let declared = output.content_length.and_then(|n| u64::try_from(n).ok()).unwrap_or(0);
    if declared > MAX_SOURCE_BYTES {
        return Err(ThumbnailError::SourceTooLarge { size: declared, limit: MAX_SOURCE_BYTES });
    }
    // The declared length is the server's word; count as the bytes arrive as well.
    let mut body = output.body;
    let mut bytes = Vec::with_capacity(usize::try_from(declared).unwrap_or(0));
    while let Some(chunk) = body.next().await {
        let chunk = chunk.map_err(|e| ThumbnailError::Read(e.to_string()))?;
        bytes.extend_from_slice(&chunk);
        if bytes.len() as u64 > MAX_SOURCE_BYTES {
            return Err(ThumbnailError::SourceTooLarge { size: bytes.len() as u64, limit: MAX_SOURCE_BYTES });
        }
    }
    Ok(bytes)
}

/// The largest size within `max_width`×`max_height` with the image's aspect ratio; an image
/// that already fits keeps its size (thumbnails are never enlarged). Sides are at least 1.
pub fn fit_within(width: u32, height: u32, max_width: u32, max_height: u32) -> (u32, u32) {
    if width <= max_width && height <= max_height {
        return (width, height);
    }
    let (w, h, mw, mh) = (u64::from(width), u64::from(height), u64::from(max_width), u64::from(max_height));
    // Compare w/h with mw/mh without floating point: the tighter bound decides the scale.
    let (new_w, new_h) = if w * mh >= h * mw { (mw, (h * mw + w / 2) / w) } else { ((w * mh + h / 2) / h, mh) };
    let clamp = |v: u64, max: u32| u32::try_from(v).unwrap_or(max).clamp(1, max);
    (clamp(new_w, max_width), clamp(new_h, max_height))
}

/// Decodes `photo` (JPEG or PNG) within the limits, applies its EXIF orientation, shrinks it
/// to fit, and encodes it as JPEG.
pub fn make_thumbnail(
    photo: &[u8],
    max_width: u32,
    max_height: u32,
    limits: &DecodeLimits,
) -> Result<Vec<u8>, ThumbnailError> {
    let image = decode_upright(photo, limits)?;
    let (width, height) = fit_within(image.width(), image.height(), max_width, max_height);
    let resized =
        if (width, height) == (image.width(), image.height()) { image } else { image.thumbnail_exact(width, height) };
    let rgb = flatten_onto_white(&resized);
    let mut jpeg = Vec::new();
    JpegEncoder::new_with_quality(&mut jpeg, JPEG_QUALITY)
        .encode_image(&rgb)
        .map_err(|e| ThumbnailError::Internal(format!("JPEG encoding failed: {e}")))?;
    Ok(jpeg)
}

/// The decoded image, turned as its EXIF orientation says.
pub fn decode_upright(photo: &[u8], limits: &DecodeLimits) -> Result<DynamicImage, ThumbnailError> {
    let mut reader = ImageReader::new(Cursor::new(photo))
        .with_guessed_format()
        .map_err(|e| ThumbnailError::Decode(e.to_string()))?;
    // The decoders' own allocation limit is advisory (not every decoder honours it), so the
    // checks below on the header's numbers are what keeps a bomb out.
    let mut decoder_limits = Limits::default();
    decoder_limits.max_alloc = Some(limits.max_decoded_bytes);
    reader.limits(decoder_limits);
    let mut decoder = reader.into_decoder().map_err(image_error)?;
    let (width, height) = decoder.dimensions();
    let pixels = u64::from(width) * u64::from(height);
    if pixels > limits.max_pixels {
        return Err(ThumbnailError::TooManyPixels { width, height, pixels, limit: limits.max_pixels });
    }
    let needed = decoder.total_bytes();
    if needed > limits.max_decoded_bytes {
        return Err(ThumbnailError::DecodedTooLarge { needed, limit: limits.max_decoded_bytes });
    }
    // A broken EXIF block is not worth refusing the photo for: show it as stored.
    let orientation = decoder.orientation().unwrap_or(image::metadata::Orientation::NoTransforms);
    let mut image = DynamicImage::from_decoder(decoder).map_err(image_error)?;
    image.apply_orientation(orientation);
    Ok(image)
}

fn image_error(error: image::ImageError) -> ThumbnailError {
    match error {
        image::ImageError::Limits(e) => ThumbnailError::DecoderLimit(e.to_string()),
        e => ThumbnailError::Decode(e.to_string()),
    }
}

/// JPEG has no alpha: transparent pixels become white (dropping alpha would show whatever
/// colour happens to be stored under them, often black).
fn flatten_onto_white(image: &DynamicImage) -> RgbImage {
    if !image.color().has_alpha() {
        return image.to_rgb8();
    }
    let rgba = image.to_rgba8();
    RgbImage::from_fn(rgba.width(), rgba.height(), |x, y| {
        let [r, g, b, a] = rgba.get_pixel(x, y).0;
        let blend = |c: u8| ((u16::from(c) * u16::from(a) + 255 * (255 - u16::from(a)) + 127) / 255) as u8;
        Rgb([blend(r), blend(g), blend(b)])
    })
}

/// The hostile-input entry (cargo-fuzz in `tests/fuzz` and the test suite's mutation run):
/// whatever the bytes, a thumbnail or a clean error. Limits are tighter than a function's
/// so a mutated header promising a huge image is refused fast.
#[cfg(feature = "fuzzing")]
pub fn fuzz_entry(photo: &[u8]) -> Result<Vec<u8>, ThumbnailError> {
    let limits = DecodeLimits { max_pixels: 4_000_000, max_decoded_bytes: 64 * 1024 * 1024 };
    make_thumbnail(photo, DEFAULT_MAX_SIDE, DEFAULT_MAX_SIDE, &limits)
}

#[cfg(test)]
mod tests;
