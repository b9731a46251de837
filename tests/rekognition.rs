//! Rekognition through the real `aws-sdk-rekognition` client, on the committed selfies
//! (assets/selfies/) and, for the accuracy test, on ../shared/photos when it is there.
//! Every face, match and attribute comes from the real models.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use aws_sdk_rekognition::Client;
use aws_sdk_rekognition::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_rekognition::primitives::Blob;
use aws_sdk_rekognition::types::{
    Attribute, FaceDetail, Image, QualityFilter, Reason, S3Object, UnsuccessfulFaceDeletionReason,
};
use aws_sdk_s3::primitives::ByteStream;

use crate::common::TestCloud;

fn selfie_path(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("assets/selfies").join(name)
}

fn selfie(name: &str) -> Vec<u8> {
    std::fs::read(selfie_path(name)).expect("committed selfie")
}

fn bytes_image(bytes: Vec<u8>) -> Image {
    Image::builder().bytes(Blob::new(bytes)).build()
}

fn s3_image(bucket: &str, key: &str) -> Image {
    Image::builder().s3_object(S3Object::builder().bucket(bucket).name(key).build()).build()
}

fn code<E: ProvideErrorMetadata, R>(err: &SdkError<E, R>) -> String {
    err.as_service_error().and_then(|e| e.code()).unwrap_or("<no code>").to_string()
}

async fn upload(cloud: &TestCloud, bucket: &str, key: &str, bytes: Vec<u8>) {
    let s3 = &cloud.clients.s3;
    if s3.head_bucket().bucket(bucket).send().await.is_err() {
        s3.create_bucket().bucket(bucket).send().await.expect("create bucket");
    }
    s3.put_object().bucket(bucket).key(key).body(ByteStream::from(bytes)).send().await.expect("put object");
}

async fn detect(rek: &Client, image: Image) -> Vec<FaceDetail> {
    rek.detect_faces()
        .image(image)
        .attributes(Attribute::All)
        .send()
        .await
        .expect("detect_faces")
        .face_details
        .unwrap_or_default()
}

fn assert_ratio_box(face: &FaceDetail) {
    let b = face.bounding_box().expect("bounding box");
    for v in [b.left(), b.top(), b.width(), b.height()] {
        let v = v.expect("box member");
        assert!((0.0..=1.0).contains(&v), "box values are ratios of the image: {b:?}");
    }
}

#[tokio::test]
async fn detect_faces_counts_the_selfies_faces_and_sees_the_sunglasses() {
    let cloud = TestCloud::start().await;
    let rek = &cloud.clients.rekognition;

    let happy = detect(rek, bytes_image(selfie("1_happy_face.jpg"))).await;
    assert_eq!(happy.len(), 1, "one face in 1_happy_face.jpg");
    let face = &happy[0];
    assert_ratio_box(face);
    assert!(face.confidence().unwrap_or(0.0) > 80.0);
    assert_eq!(face.sunglasses().map(|s| s.value()), Some(false));
    assert_eq!(face.eyes_open().map(|s| s.value()), Some(true));
    assert!(face.landmarks().len() > 5, "ALL reports every landmark");
    assert!(face.pose().and_then(|p| p.yaw()).is_some() && face.quality().and_then(|q| q.sharpness()).is_some());
    assert!(face.age_range().is_none() && face.emotions().is_empty(), "no attribute our models do not estimate");

    let sunglasses = detect(rek, bytes_image(selfie("2_sunglass_face.jpg"))).await;
    assert_eq!(sunglasses.len(), 1);
    assert_eq!(sunglasses[0].sunglasses().map(|s| s.value()), Some(true));

    let group = detect(rek, bytes_image(selfie("3_multiple_faces.jpg"))).await;
    assert_eq!(group.len(), 2, "the two-portrait montage");
    group.iter().for_each(assert_ratio_box);

    assert!(detect(rek, bytes_image(selfie("4_no_face.jpg"))).await.is_empty(), "a cat is not a face");
    assert!(detect(rek, bytes_image(selfie("4_no_face_coffee.jpg"))).await.is_empty());

    // DEFAULT: box, confidence, pose, quality and the five default landmarks, nothing else.
    let out = rek.detect_faces().image(bytes_image(selfie("5_same_person_1.jpg"))).send().await.unwrap();
    let face = &out.face_details()[0];
    assert_eq!(face.landmarks().len(), 5);
    assert!(face.sunglasses().is_none() && face.eyes_open().is_none());
    assert_eq!(face.sunglasses(), None, "clear eyeglasses are not asked for by DEFAULT");
}

/// `assets/test-photos/group_basketball_1.png`: a player facing the camera on the left, one
/// turned away (rear three-quarter) on the right that only the pose model finds.
fn basketball() -> Vec<u8> {
    std::fs::read(Path::new(env!("CARGO_MANIFEST_DIR")).join("assets/test-photos/group_basketball_1.png"))
        .expect("committed test photo")
}

#[tokio::test]
async fn a_face_turned_away_is_detected_but_never_indexed_or_searched() {
    let cloud = TestCloud::start().await;
    let rek = &cloud.clients.rekognition;

    let faces = detect(rek, bytes_image(basketball())).await;
    assert_eq!(faces.len(), 2, "{faces:#?}");
    faces.iter().for_each(assert_ratio_box);
    let left = |f: &FaceDetail| f.bounding_box().and_then(|b| b.left()).unwrap_or(0.0);
    let (facing, turned) =
        if left(&faces[0]) < left(&faces[1]) { (&faces[0], &faces[1]) } else { (&faces[1], &faces[0]) };
    assert!(left(turned) > 0.6, "the turned player stands on the right: {turned:?}");
    assert_eq!(facing.sunglasses().map(|s| s.value()), Some(false));
    assert!(turned.pose().and_then(|p| p.yaw()).unwrap_or(0.0) < -45.0, "turned to the viewer's left: {turned:?}");
    assert!(turned.sunglasses().is_none() && turned.eyes_open().is_none(), "its eyes are not seen: no guess");
    let kinds: Vec<&str> = turned.landmarks().iter().filter_map(|l| l.r#type()).map(|t| t.as_str()).collect();
    assert_eq!(kinds, ["eyeLeft", "eyeRight", "nose"]);

    rek.create_collection().collection_id("turned").send().await.unwrap();
    for filter in [QualityFilter::Auto, QualityFilter::None] {
        let out = rek
            .index_faces()
            .collection_id("turned")
            .image(bytes_image(basketball()))
            .quality_filter(filter.clone())
            .send()
            .await
            .unwrap();
        assert_eq!(out.face_records().len(), 1, "{filter:?}: only the facing player is indexed");
        let unindexed = out.unindexed_faces();
        assert_eq!(unindexed.len(), 1, "{filter:?}");
        assert_eq!(unindexed[0].reasons(), [Reason::ExtremePose], "{filter:?}");
        assert!(unindexed[0].face_detail().is_some_and(|d| left(d) > 0.6));
    }

    // The face searched is the largest one the face models saw.
    let out =
        rek.search_faces_by_image().collection_id("turned").image(bytes_image(basketball())).send().await.unwrap();
    assert!(out.searched_face_bounding_box().and_then(|b| b.left()).unwrap_or(1.0) < 0.5, "{out:?}");
    assert!(!out.face_matches().is_empty(), "the facing player was indexed above");
}

#[tokio::test]
async fn index_and_search_find_the_same_person_and_not_a_different_one() {
    let cloud = TestCloud::start().await;
    let rek = &cloud.clients.rekognition;
    upload(&cloud, "riderphotos", "hopper.jpg", selfie("5_same_person_1.jpg")).await;

    let created = rek.create_collection().collection_id("rider-photos").send().await.unwrap();
    assert_eq!(created.status_code(), Some(200));
    assert!(created.collection_arn().unwrap_or("").ends_with(":collection/rider-photos"));

    // From S3, as the workflow's IndexFace function does.
    let indexed = rek
        .index_faces()
        .collection_id("rider-photos")
        .image(s3_image("riderphotos", "hopper.jpg"))
        .external_image_id("user_hopper")
        .detection_attributes(Attribute::All)
        .send()
        .await
        .unwrap();
    assert_eq!(indexed.face_records().len(), 1);
    let hopper = indexed.face_records()[0].face().unwrap();
    let hopper_id = hopper.face_id().unwrap().to_string();
    assert_eq!(hopper.external_image_id(), Some("user_hopper"));
    assert!(hopper.image_id().is_some() && hopper.bounding_box().is_some());
    assert_eq!(
        indexed.face_records()[0].face_detail().and_then(|d| d.sunglasses()).map(|s| s.value()),
        Some(false),
        "clear eyeglasses are not sunglasses"
    );
    assert!(indexed.face_model_version().is_some());

    // The same person in another photo (as bytes) is found at the default threshold.
    let found = rek
        .search_faces_by_image()
        .collection_id("rider-photos")
        .image(bytes_image(selfie("6_same_person_2.jpg")))
        .send()
        .await
        .unwrap();
    assert!(found.searched_face_bounding_box().is_some() && found.searched_face_confidence().is_some());
    let m = &found.face_matches()[0];
    assert_eq!(m.face().and_then(|f| f.face_id()), Some(hopper_id.as_str()));
    assert!(m.similarity().unwrap() >= 80.0, "same person: {:?}", m.similarity());

    // A different person is not.
    let other = rek
        .search_faces_by_image()
        .collection_id("rider-photos")
        .image(bytes_image(selfie("1_happy_face.jpg")))
        .send()
        .await
        .unwrap();
    assert!(other.face_matches().is_empty(), "different person matched: {:?}", other.face_matches());

    // SearchFaces by FaceId: the Obama face finds nothing, Hopper's own face is not its own match.
    let obama = rek
        .index_faces()
        .collection_id("rider-photos")
        .image(bytes_image(selfie("1_happy_face.jpg")))
        .external_image_id("user_obama")
        .send()
        .await
        .unwrap();
    let obama_id = obama.face_records()[0].face().unwrap().face_id().unwrap().to_string();
    let by_id = rek.search_faces().collection_id("rider-photos").face_id(&hopper_id).send().await.unwrap();
    assert_eq!(by_id.searched_face_id(), Some(hopper_id.as_str()));
    assert!(by_id.face_matches().is_empty(), "{:?}", by_id.face_matches());
    let everyone = rek
        .search_faces()
        .collection_id("rider-photos")
        .face_id(&hopper_id)
        .face_match_threshold(0.0)
        .send()
        .await
        .unwrap();
    assert_eq!(everyone.face_matches().len(), 1);
    assert_eq!(everyone.face_matches()[0].face().and_then(|f| f.face_id()), Some(obama_id.as_str()));
    assert!(everyone.face_matches()[0].similarity().unwrap() < 80.0);

    let described = rek.describe_collection().collection_id("rider-photos").send().await.unwrap();
    assert_eq!(described.face_count(), Some(2));
    assert!(described.collection_arn().unwrap_or("").starts_with("arn:aws:rekognition:"));
    assert!(described.creation_timestamp().is_some());

    // CompareFaces: Hopper against the montage of Obama and Hopper.
    let compared = rek
        .compare_faces()
        .source_image(bytes_image(selfie("6_same_person_2.jpg")))
        .target_image(bytes_image(selfie("3_multiple_faces.jpg")))
        .send()
        .await
        .unwrap();
    assert_eq!(compared.face_matches().len(), 1);
    assert_eq!(compared.unmatched_faces().len(), 1);
    assert!(compared.face_matches()[0].similarity().unwrap() >= 80.0);
    assert!(compared.source_image_face().and_then(|f| f.bounding_box()).is_some());
}

#[tokio::test]
async fn index_faces_honours_max_faces_and_reports_unindexed_faces() {
    let cloud = TestCloud::start().await;
    let rek = &cloud.clients.rekognition;
    rek.create_collection().collection_id("group").send().await.unwrap();
    let out = rek
        .index_faces()
        .collection_id("group")
        .image(bytes_image(selfie("3_multiple_faces.jpg")))
        .max_faces(1)
        .quality_filter(QualityFilter::Auto)
        .send()
        .await
        .unwrap();
    assert_eq!(out.face_records().len(), 1);
    assert_eq!(out.unindexed_faces().len(), 1);
    assert_eq!(out.unindexed_faces()[0].reasons(), &[Reason::ExceedsMaxFaces]);
    assert!(out.unindexed_faces()[0].face_detail().is_some());

    let none = rek
        .index_faces()
        .collection_id("group")
        .image(bytes_image(selfie("4_no_face_coffee.jpg")))
        .send()
        .await
        .unwrap();
    assert!(none.face_records().is_empty() && none.unindexed_faces().is_empty());
    let described = rek.describe_collection().collection_id("group").send().await.unwrap();
    assert_eq!(described.face_count(), Some(1));
}

/// AWS: "If you provide the same image, specify the same collection, and use the same
/// external ID in the IndexFaces operation, Amazon Rekognition doesn't save duplicate face
/// metadata." A retried AddFaceToIndex task relies on it.
#[tokio::test]
async fn index_faces_again_with_the_same_image_and_external_id_saves_no_duplicate() {
    let cloud = TestCloud::start().await;
    let rek = &cloud.clients.rekognition;
    rek.create_collection().collection_id("riders").send().await.unwrap();
    upload(&cloud, "photos", "group.jpg", selfie("3_multiple_faces.jpg")).await;
    let index = |external: &'static str, max_faces: i32| {
        rek.index_faces()
            .collection_id("riders")
            .image(s3_image("photos", "group.jpg"))
            .external_image_id(external)
            .max_faces(max_faces)
            .send()
    };
    let face_ids = |out: &aws_sdk_rekognition::operation::index_faces::IndexFacesOutput| -> Vec<String> {
        out.face_records().iter().map(|r| r.face().unwrap().face_id().unwrap().to_owned()).collect()
    };
    let first = index("user_a", 1).await.unwrap();
    let again = index("user_a", 1).await.unwrap();
    assert_eq!(face_ids(&first).len(), 1);
    assert_eq!(face_ids(&again), face_ids(&first), "the repeat answers with the stored face");
    let count = || async { rek.describe_collection().collection_id("riders").send().await.unwrap().face_count() };
    assert_eq!(count().await, Some(1));

    // More faces allowed: the known face is not added again, the new one joins its image.
    let wider = index("user_a", 2).await.unwrap();
    assert_eq!(face_ids(&wider).len(), 2);
    assert_eq!(face_ids(&wider)[0], face_ids(&first)[0]);
    let image_ids: Vec<_> = wider.face_records().iter().map(|r| r.face().unwrap().image_id().unwrap()).collect();
    assert_eq!(image_ids[0], image_ids[1], "faces of one image share its ImageId");
    assert_eq!(count().await, Some(2));

    // Another external id is another rider's claim on the photo: indexed anew.
    let other = index("user_b", 1).await.unwrap();
    assert_ne!(face_ids(&other), face_ids(&first));
    assert_eq!(count().await, Some(3));
    // After a delete the same call indexes the face again rather than naming a deleted one.
    rek.delete_faces().collection_id("riders").face_ids(face_ids(&other)[0].clone()).send().await.unwrap();
    let back = index("user_b", 1).await.unwrap();
    assert_ne!(face_ids(&back), face_ids(&other));
    assert_eq!(count().await, Some(3));
}

#[tokio::test]
async fn bad_requests_get_awss_error_codes() {
    let cloud = TestCloud::start().await;
    let rek = &cloud.clients.rekognition;
    rek.create_collection().collection_id("c1").send().await.unwrap();

    let again = rek.create_collection().collection_id("c1").send().await.unwrap_err();
    assert_eq!(code(&again), "ResourceAlreadyExistsException");
    let bad_id = rek.create_collection().collection_id("bad id!").send().await.unwrap_err();
    assert_eq!(code(&bad_id), "ValidationException");
    let long_id = rek.create_collection().collection_id("x".repeat(256)).send().await.unwrap_err();
    assert_eq!(code(&long_id), "ValidationException");
    let missing = rek.describe_collection().collection_id("nope").send().await.unwrap_err();
    assert_eq!(code(&missing), "ResourceNotFoundException");
    let missing = rek.delete_collection().collection_id("nope").send().await.unwrap_err();
    assert_eq!(code(&missing), "ResourceNotFoundException");
    let missing = rek
        .index_faces()
        .collection_id("nope")
        .image(bytes_image(selfie("1_happy_face.jpg")))
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&missing), "ResourceNotFoundException");
    let missing = rek.list_faces().collection_id("nope").send().await.unwrap_err();
    assert_eq!(code(&missing), "ResourceNotFoundException");

    let no_face = rek
        .search_faces_by_image()
        .collection_id("c1")
        .image(bytes_image(selfie("4_no_face.jpg")))
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&no_face), "InvalidParameterException");
    let no_face = rek
        .compare_faces()
        .source_image(bytes_image(selfie("4_no_face_coffee.jpg")))
        .target_image(bytes_image(selfie("1_happy_face.jpg")))
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&no_face), "InvalidParameterException");

    let garbage = rek.detect_faces().image(bytes_image(b"this is not a photo".to_vec())).send().await.unwrap_err();
    assert_eq!(code(&garbage), "InvalidImageFormatException");
    let gif = rek.detect_faces().image(bytes_image(b"GIF89a\x01\x00\x01\x00\x00\x00\x00;".to_vec())).send().await;
    assert_eq!(code(&gif.unwrap_err()), "InvalidImageFormatException");
    let mut png = Vec::new();
    image::RgbImage::from_pixel(64, 64, image::Rgb([90, 120, 30]))
        .write_to(&mut std::io::Cursor::new(&mut png), image::ImageFormat::Png)
        .unwrap();
    png.truncate(png.len() / 2);
    let truncated = rek.detect_faces().image(bytes_image(png)).send().await.unwrap_err();
    assert_eq!(code(&truncated), "InvalidImageFormatException");
    // A JPEG cut short is refused too, not judged by the rows that survived.
    let jpeg = selfie("1_happy_face.jpg");
    let cut = rek.detect_faces().image(bytes_image(jpeg[..jpeg.len() * 2 / 3].to_vec())).send().await.unwrap_err();
    assert_eq!(code(&cut), "InvalidImageFormatException");

    // 5 MB is the limit for bytes; 15 MB for S3 objects.
    let mut big = selfie("1_happy_face.jpg");
    big.resize(5 * 1024 * 1024 + 1, 0);
    let too_large = rek.detect_faces().image(bytes_image(big.clone())).send().await.unwrap_err();
    assert_eq!(code(&too_large), "ImageTooLargeException");
    upload(&cloud, "photos", "big.jpg", big).await;
    let not_too_large_in_s3 = rek.detect_faces().image(s3_image("photos", "big.jpg")).send().await.unwrap();
    assert_eq!(not_too_large_in_s3.face_details().len(), 1, "trailing bytes after the JPEG do not matter");
    let mut huge = selfie("1_happy_face.jpg");
    huge.resize(15 * 1024 * 1024 + 1, 0);
    upload(&cloud, "photos", "huge.jpg", huge).await;
    let too_large = rek.detect_faces().image(s3_image("photos", "huge.jpg")).send().await.unwrap_err();
    assert_eq!(code(&too_large), "ImageTooLargeException");

    let no_key = rek.detect_faces().image(s3_image("photos", "missing.jpg")).send().await.unwrap_err();
    assert_eq!(code(&no_key), "InvalidS3ObjectException");
    let no_bucket = rek.detect_faces().image(s3_image("no-such-bucket", "a.jpg")).send().await.unwrap_err();
    assert_eq!(code(&no_bucket), "InvalidS3ObjectException");

    let bad_external = rek
        .index_faces()
        .collection_id("c1")
        .image(bytes_image(selfie("1_happy_face.jpg")))
        .external_image_id("has spaces/and slashes")
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&bad_external), "ValidationException");
    let bad_max = rek
        .search_faces_by_image()
        .collection_id("c1")
        .image(bytes_image(selfie("1_happy_face.jpg")))
        .max_faces(0)
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&bad_max), "ValidationException");
    let bad_threshold = rek
        .search_faces()
        .collection_id("c1")
        .face_id(uuid::Uuid::new_v4().to_string())
        .face_match_threshold(101.0)
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&bad_threshold), "ValidationException");
    let unknown_face = rek.search_faces().collection_id("c1").face_id(uuid::Uuid::new_v4().to_string()).send().await;
    assert_eq!(code(&unknown_face.unwrap_err()), "InvalidParameterException");
    let bad_face_id = rek.delete_faces().collection_id("c1").face_ids("not-a-face-id").send().await.unwrap_err();
    assert_eq!(code(&bad_face_id), "ValidationException");
    let bad_token = rek.list_faces().collection_id("c1").next_token("garbage!").send().await.unwrap_err();
    assert_eq!(code(&bad_token), "InvalidPaginationTokenException");

    // None of it changed the collection.
    let described = rek.describe_collection().collection_id("c1").send().await.unwrap();
    assert_eq!(described.face_count(), Some(0));
}

#[tokio::test]
async fn deletes_take_effect_at_once_faces_survive_a_restart_and_lists_paginate() {
    let cloud = TestCloud::start().await;
    let rek = cloud.clients.rekognition.clone();
    for id in ["a-coll", "b-coll", "c-coll"] {
        rek.create_collection().collection_id(id).send().await.unwrap();
    }
    let mut ids = Vec::new();
    for (photo, user) in [("3_multiple_faces.jpg", "group"), ("5_same_person_1.jpg", "hopper")] {
        let out = rek
            .index_faces()
            .collection_id("b-coll")
            .image(bytes_image(selfie(photo)))
            .external_image_id(user)
            .send()
            .await
            .unwrap();
        ids.extend(out.face_records().iter().filter_map(|r| r.face().and_then(|f| f.face_id()).map(String::from)));
    }
    assert_eq!(ids.len(), 3);

    let cloud = cloud.restart().await;
    let rek = cloud.clients.rekognition.clone();

    // Pages of two: every face once, in two pages.
    let mut listed = Vec::new();
    let mut token = None;
    let mut pages = 0;
    loop {
        let page = rek.list_faces().collection_id("b-coll").max_results(2).set_next_token(token).send().await.unwrap();
        pages += 1;
        listed.extend(page.faces().iter().filter_map(|f| f.face_id().map(String::from)));
        token = page.next_token().map(String::from);
        if token.is_none() {
            break;
        }
    }
    assert_eq!(pages, 2);
    listed.sort();
    let mut expected = ids.clone();
    expected.sort();
    assert_eq!(listed, expected, "the faces survived the restart");
    let collections = rek.list_collections().max_results(2).send().await.unwrap();
    assert_eq!(collections.collection_ids(), &["a-coll", "b-coll"]);
    let rest = rek.list_collections().set_next_token(collections.next_token().map(String::from)).send().await.unwrap();
    assert_eq!(rest.collection_ids(), &["c-coll"]);
    assert!(rest.next_token().is_none());

    // The vectors came back too: Hopper is still found after the restart.
    let found = rek
        .search_faces_by_image()
        .collection_id("b-coll")
        .image(bytes_image(selfie("6_same_person_2.jpg")))
        .send()
        .await
        .unwrap();
    // The montage holds the same Hopper portrait, so two faces match; one is the indexed selfie.
    let hopper = found
        .face_matches()
        .iter()
        .filter_map(|m| m.face())
        .find(|f| f.external_image_id() == Some("hopper"))
        .expect("Hopper's selfie is found after the restart");
    let hopper_id = hopper.face_id().unwrap().to_string();

    let unknown = uuid::Uuid::new_v4().to_string();
    let deleted =
        rek.delete_faces().collection_id("b-coll").face_ids(&hopper_id).face_ids(&unknown).send().await.unwrap();
    assert_eq!(deleted.deleted_faces(), std::slice::from_ref(&hopper_id));
    let failed = &deleted.unsuccessful_face_deletions()[0];
    assert_eq!(failed.face_id(), Some(unknown.as_str()));
    assert_eq!(failed.reasons(), &[UnsuccessfulFaceDeletionReason::FaceNotFound]);

    let after = rek
        .search_faces_by_image()
        .collection_id("b-coll")
        .image(bytes_image(selfie("6_same_person_2.jpg")))
        .send()
        .await
        .unwrap();
    // The montage holds the same Hopper portrait: only that face may still match.
    assert!(after.face_matches().iter().all(|m| m.face().and_then(|f| f.face_id()) != Some(hopper_id.as_str())));
    assert_eq!(rek.describe_collection().collection_id("b-coll").send().await.unwrap().face_count(), Some(2));

    rek.delete_collection().collection_id("b-coll").send().await.unwrap();
    let gone = rek.list_faces().collection_id("b-coll").send().await.unwrap_err();
    assert_eq!(code(&gone), "ResourceNotFoundException");
    let cloud = cloud.restart().await;
    let listed = cloud.clients.rekognition.list_collections().send().await.unwrap();
    assert_eq!(listed.collection_ids(), &["a-coll", "c-coll"]);
}

#[tokio::test]
async fn indexed_faces_survive_a_kill_9_of_serve() {
    let dir = tempfile::tempdir().unwrap();
    let client_for = |endpoint: String| async move {
        wildrydes::cloud::Clients::for_target(&wildrydes::cloud::Target::local(endpoint)).await.rekognition
    };
    let server = crate::common::ServerProcess::spawn(dir.path());
    let rek = client_for(server.endpoint.clone()).await;
    rek.create_collection().collection_id("rider-photos").send().await.unwrap();
    let out = rek
        .index_faces()
        .collection_id("rider-photos")
        .image(bytes_image(selfie("5_same_person_1.jpg")))
        .external_image_id("user_a")
        .send()
        .await
        .unwrap();
    let face_id = out.face_records()[0].face().and_then(|f| f.face_id()).unwrap().to_string();
    server.kill_hard(); // SIGKILL right after the answer: no shutdown path runs

    let server = crate::common::ServerProcess::spawn(dir.path());
    let rek = client_for(server.endpoint.clone()).await;
    let listed = rek.list_faces().collection_id("rider-photos").send().await.unwrap();
    assert_eq!(listed.faces().len(), 1);
    assert_eq!(listed.faces()[0].face_id(), Some(face_id.as_str()));
    assert_eq!(listed.faces()[0].external_image_id(), Some("user_a"));
    // And its vector: the face is searchable, not just listed.
    let by_id = rek.search_faces().collection_id("rider-photos").face_id(&face_id).send().await.unwrap();
    assert!(by_id.face_matches().is_empty());
    let found = rek
        .search_faces_by_image()
        .collection_id("rider-photos")
        .image(bytes_image(selfie("6_same_person_2.jpg")))
        .send()
        .await
        .unwrap();
    assert_eq!(found.face_matches()[0].face().and_then(|f| f.face_id()), Some(face_id.as_str()));
    server.kill_hard();
}

// ---- accuracy -------------------------------------------------------------------------

use crate::photos::{Photo, manifest};

/// Every photo through IndexFaces (QualityFilter NONE, all attributes) into one collection:
/// the faces it found (indexed, or unindexed when turned too far to identify), their
/// Sunglasses, and a vector per indexed face; then every single-face
/// photo's face searched against all the others at threshold 0 gives every pair's
/// similarity. Returns the failures.
async fn check_photos(rek: &Client, collection: &str, photos: &[Photo]) -> Vec<String> {
    rek.create_collection().collection_id(collection).send().await.unwrap();
    let mut failures = Vec::new();
    let mut counts = BTreeMap::<String, (usize, usize)>::new();
    let mut singles = Vec::new(); // (file, person, face id)
    for photo in photos {
        let name = photo.path.file_name().unwrap().to_string_lossy().to_string();
        let bytes = std::fs::read(&photo.path).expect("photo readable");
        let out = rek
            .index_faces()
            .collection_id(collection)
            .image(bytes_image(bytes))
            .external_image_id(name.replace(|c: char| !c.is_ascii_alphanumeric() && c != '.', "_"))
            .quality_filter(QualityFilter::None)
            .detection_attributes(Attribute::All)
            .send()
            .await
            .unwrap_or_else(|e| panic!("{name}: {e:?}"));
        let records = out.face_records();
        let details: Vec<_> = records
            .iter()
            .filter_map(|r| r.face_detail())
            .chain(out.unindexed_faces().iter().filter_map(|u| u.face_detail()))
            .collect();
        let sunglasses: Vec<bool> = details.iter().map(|d| d.sunglasses().map(|s| s.value()) == Some(true)).collect();
        let found = details.len();
        let ok = match photo.category.as_str() {
            "one_face" => found == 1 && records.len() == 1 && !sunglasses[0],
            "sunglasses" => found == 1 && records.len() == 1 && sunglasses[0],
            "multiple_faces" => found >= 2,
            "no_face" => found == 0,
            other => panic!("unknown category {other}"),
        };
        println!(
            "{name}: {} → {found} face(s) ({} indexed), sunglasses {sunglasses:?} {}",
            photo.category,
            records.len(),
            if ok { "ok" } else { "WRONG" }
        );
        let entry = counts.entry(photo.category.clone()).or_default();
        entry.0 += usize::from(ok);
        entry.1 += 1;
        if !ok {
            failures.push(format!("{name}: {} but {found} face(s), sunglasses {sunglasses:?}", photo.category));
        }
        if records.len() == 1 && !photo.person.is_empty() && photo.category != "multiple_faces" {
            let id = records[0].face().and_then(|f| f.face_id()).unwrap().to_string();
            singles.push((name, photo.person.clone(), id));
        }
    }
    for (category, (ok, n)) in &counts {
        println!("{category}: {ok}/{n} right");
    }
    for (i, (na, pa, ida)) in singles.iter().enumerate() {
        let out =
            rek.search_faces().collection_id(collection).face_id(ida).face_match_threshold(0.0).send().await.unwrap();
        let similarity: BTreeMap<&str, f32> =
            out.face_matches().iter().filter_map(|m| Some((m.face()?.face_id()?, m.similarity()?))).collect();
        for (nb, pb, idb) in &singles[i + 1..] {
            let s = similarity.get(idb.as_str()).copied().unwrap_or(0.0);
            let same = pa == pb;
            println!("{na} ~ {nb}: similarity {s:.1} ({})", if same { "same person" } else { "different people" });
            if same != (s >= 80.0) {
                failures.push(format!("{na} ~ {nb}: similarity {s:.1} but same person = {same}"));
            }
        }
    }
    failures
}

#[tokio::test]
async fn committed_selfies_meet_their_manifest_through_the_api() {
    let cloud = TestCloud::start().await;
    let photos = manifest(&selfie_path(""));
    let failures = check_photos(&cloud.clients.rekognition, "selfies", &photos).await;
    assert!(failures.is_empty(), "{failures:#?}");
}

#[tokio::test]
async fn shared_dev_photos_meet_their_manifest_through_the_api() {
    let Some(dev) = crate::photos::shared_photos() else {
        eprintln!("SKIPPED shared_dev_photos_meet_their_manifest_through_the_api: ../shared/photos/dev not found");
        return;
    };
    let mut photos = manifest(&dev);
    let unverified = dev.join("unverified");
    if unverified.join("MANIFEST.tsv").is_file() {
        photos.extend(manifest(&unverified));
    } else {
        eprintln!("no {}: the verified photos only", unverified.display());
    }
    let cloud = TestCloud::start().await;
    let failures = check_photos(&cloud.clients.rekognition, "dev-photos", &photos).await;
    assert!(failures.is_empty(), "{failures:#?}");
}
