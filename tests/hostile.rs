//! Hostile input, the short run CI does: seeded, bounded mutation of seed corpora through
//! the fuzzing entries of `wildrydes::fuzzing` (the same ones `tests/fuzz` drives with
//! cargo-fuzz). Each test proves that thousands of malformed inputs end in a clean error or
//! result: no panic, no hang, the interpreter's history and snapshots intact. The counts
//! are printed (`--nocapture`); a failing input is printed escaped, to become a regression
//! test in `hostile_regressions` below.

use std::path::Path;

use wildrydes::fuzzing::{self, Outcome, mutate};

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// Every file of `tests/fuzz/seeds/<target>`, the corpus cargo-fuzz starts from too.
fn seeds(target: &str) -> Vec<Vec<u8>> {
    let dir = root().join("tests/fuzz/seeds").join(target);
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("seed corpus {}: {e}", dir.display()))
        .map(|e| e.expect("a directory entry").path())
        .collect();
    files.sort();
    files.iter().map(|f| std::fs::read(f).expect("a seed file")).collect()
}

/// The workshop's state machines, their `${...}` substitutions filled in as deploy does.
fn workshop_definitions() -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    for n in 1..=4 {
        let path = root().join(format!("statemachine/RiderPhotoProcessing-{n}.asl.json"));
        let mut text = std::fs::read_to_string(&path).expect("a workshop definition");
        while let Some(start) = text.find("${") {
            let end = start + text[start..].find('}').expect("a closed substitution");
            let name = text[start + 2..end].to_string();
            text.replace_range(start..=end, &format!("arn:aws:lambda:us-east-1:123456789012:function:{name}"));
        }
        out.push(text.into_bytes());
    }
    out
}

/// `WILDRYDES_HOSTILE_SCALE=N` runs N times the cases (a longer local hunt; CI runs 1).
fn run(mut campaign: mutate::Campaign<'_>, entry: impl Fn(&[u8]) -> Outcome) -> mutate::Report {
    let scale = std::env::var("WILDRYDES_HOSTILE_SCALE").ok().and_then(|s| s.parse().ok()).unwrap_or(1usize);
    campaign.cases *= scale.max(1);
    let report = mutate::run(&campaign, entry);
    println!("{report}");
    let shown: Vec<String> = report
        .failures
        .iter()
        .take(3)
        .map(|(input, message)| format!("{message}\n    input: b\"{}\"", input.escape_ascii()))
        .collect();
    assert!(report.failures.is_empty(), "{report}\n{}", shown.join("\n"));
    assert_eq!(report.cases, campaign.cases);
    report
}

#[test]
fn asl_definitions_mutated_never_panic_and_runs_keep_their_history_whole() {
    let mut corpus = workshop_definitions();
    corpus.extend(seeds("asl_definition"));
    let report = run(
        mutate::Campaign {
            name: "asl_definition",
            seeds: corpus,
            dictionary: vec![
                br#""Type":"Pass","#,
                br#""Type":"Map","#,
                br#""Type":"Wait","Seconds":1,"#,
                br#""Next":"#,
                br#""End":true"#,
                br#""Retry":[{"ErrorEquals":["States.ALL"],"MaxAttempts":3}],"#,
                br#""Catch":[{"ErrorEquals":["States.ALL"],"Next":"Done"}],"#,
                br#""ResultPath":"$.a.b","#,
                br#""Parameters":{"x.$":"States.Array($, $)"},"#,
                br#""ItemsPath":"$.items","#,
                b"[[[[[[[[",
                b"\0",
            ],
            cases: 3000,
            rng_seed: 0x5eed_a51d,
            max_len: 16 * 1024,
        },
        fuzzing::asl_definition,
    );
    assert!(report.accepted > 0, "some mutated definitions still parse and run");
}

#[test]
fn asl_paths_intrinsics_and_choice_rules_mutated_never_panic() {
    run(
        mutate::Campaign {
            name: "asl_data",
            seeds: seeds("asl_data"),
            dictionary: vec![
                b"States.",
                b"States.Array(",
                b"States.Format('{}', ",
                b"States.ArrayRange(0, 1000000000, 1)",
                b"States.StringSplit(",
                b"$..",
                b"..*",
                b"States.JsonToString(",
                b"[*]",
                b"[?(@",
                b"[-1:]",
                b"$$.",
                b"$var",
                b"'\\{\\}'",
                b"\"Variable\":\"$.n\",",
                b"1e400",
            ],
            cases: 5000,
            rng_seed: 0xda7a,
            max_len: 4096,
        },
        fuzzing::asl_data,
    );
}

/// Inputs the fuzzers found, kept so they stay fixed.
#[test]
fn hostile_regressions() {
    let runaway_scan =
        b"$..*..*..*..*..*..*..*..*..*..*..*..*\0{\"a\":[[[1,2],[3,4]],[[5,6],[7,8]]],\"b\":{\"c\":{\"d\":[1,2,3]}}}";
    let nested_json_to_string =
        format!("{}$.s{}\0{{\"s\":\"\\\"q\\\"\"}}", "States.JsonToString(".repeat(30), ")".repeat(30));
    // cargo-fuzz's timeout-7b233c47: twenty `[?(@.` filters left open (a parser that backtracks).
    let open_filters = include_bytes!("fuzz/seeds/asl_data/regression_open_filters").to_vec();
    for input in [runaway_scan.to_vec(), nested_json_to_string.into_bytes(), open_filters] {
        assert!(
            matches!(fuzzing::asl_data(&input), Outcome::Refused),
            "refused, not run away: {}",
            input.escape_ascii()
        );
    }
}

#[test]
fn dynamodb_expressions_mutated_never_panic() {
    run(
        mutate::Campaign {
            name: "dynamodb_expression",
            seeds: seeds("dynamodb_expression"),
            dictionary: vec![
                b" AND ",
                b" OR ",
                b"NOT ",
                b"(",
                b")",
                b"[99999999999999999999]",
                b".",
                b"size(",
                b"attribute_type(#n, :s)",
                b" BETWEEN :n AND :s",
                b" IN (",
                b"SET ",
                b" REMOVE ",
                b" ADD ",
                b":unknown",
                b"#unknown",
            ],
            cases: 5000,
            rng_seed: 0xd1a0,
            max_len: 8192,
        },
        fuzzing::dynamodb_expression,
    );
}

#[test]
fn s3_xml_bodies_mutated_get_a_client_error_never_a_server_error() {
    let report = run(
        mutate::Campaign {
            name: "s3_xml",
            seeds: seeds("s3_xml"),
            dictionary: vec![
                b"<Object><Key>",
                b"</Key></Object>",
                b"<Key>../x</Key>",
                b"<!DOCTYPE x [<!ENTITY a \"aaaaaaaa\">]>",
                b"&a;",
                b"<![CDATA[",
                b"&#0;",
                b"<Quiet>true</Quiet>",
                b"<LocationConstraint>",
            ],
            cases: 1500,
            rng_seed: 0x53,
            max_len: 64 * 1024,
        },
        fuzzing::s3_xml,
    );
    assert!(report.accepted > 0, "well-formed bodies get through signing and parsing");
}

/// Small re-encodings of the test selfies (JPEG and PNG) and one selfie as shipped: the
/// decoder sees real files, mutated cases stay cheap.
fn image_seeds() -> Vec<Vec<u8>> {
    use image::ImageFormat;
    let dir = root().join("assets/selfies");
    let mut out = vec![std::fs::read(dir.join("4_no_face.jpg")).expect("a selfie")];
    for name in ["1_happy_face.jpg", "3_multiple_faces.jpg"] {
        let img = image::open(dir.join(name)).expect("a selfie decodes").thumbnail(64, 64);
        for format in [ImageFormat::Jpeg, ImageFormat::Png] {
            let mut bytes = Vec::new();
            img.write_to(&mut std::io::Cursor::new(&mut bytes), format).expect("re-encoded");
            out.push(bytes);
        }
    }
    out
}

fn image_dictionary() -> Vec<&'static [u8]> {
    vec![
        b"\xff\xd8\xff\xe0",
        b"\xff\xc0\x00\x11\x08\xff\xff\xff\xff",
        b"\xff\xda",
        b"Exif\0\0MM\0*",
        b"\x89PNG\r\n\x1a\n",
        b"IHDR\x7f\xff\xff\xff\x7f\xff\xff\xff\x08\x06",
        b"IDAT",
        b"IEND",
    ]
}

#[test]
fn rekognition_images_mutated_are_decoded_or_refused_never_a_panic() {
    run(
        mutate::Campaign {
            name: "rekognition_image",
            seeds: image_seeds(),
            dictionary: image_dictionary(),
            cases: 800,
            rng_seed: 0x1a6e,
            max_len: 256 * 1024,
        },
        fuzzing::rekognition_image,
    );
}

#[test]
fn thumbnail_images_mutated_are_resized_or_refused_never_a_panic() {
    run(
        mutate::Campaign {
            name: "thumbnail",
            seeds: image_seeds(),
            dictionary: image_dictionary(),
            cases: 800,
            rng_seed: 0x7b,
            max_len: 256 * 1024,
        },
        |bytes| Outcome::from(&wildrydes_thumbnail::fuzz_entry(bytes)),
    );
}

#[test]
fn lambda_code_zips_mutated_never_write_outside_their_directory() {
    use std::io::Write;
    let zip_of = |entries: &[(&str, &[u8], u32)]| {
        let mut writer = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
        for (name, bytes, mode) in entries {
            let options = zip::write::SimpleFileOptions::default().unix_permissions(*mode);
            writer.start_file(*name, options).expect("an entry");
            writer.write_all(bytes).expect("entry bytes");
        }
        writer.finish().expect("a zip").into_inner()
    };
    let seeds = vec![
        zip_of(&[("bootstrap", b"#!/bin/sh\necho hi\n", 0o755), ("lib/data.txt", b"data", 0o644)]),
        zip_of(&[("a/b/../c.txt", b"x", 0o644), ("dir/", b"", 0o755)]),
        zip_of(&[("bootstrap", &[0u8; 4096], 0o755)]),
    ];
    run(
        mutate::Campaign {
            name: "lambda_zip",
            seeds,
            dictionary: vec![b"../", b"/etc/", b"PK\x03\x04", b"PK\x01\x02", b"PK\x05\x06", b"\xff\xa1", b"\\..\\"],
            cases: 1500,
            rng_seed: 0x21b,
            max_len: 64 * 1024,
        },
        fuzzing::lambda_zip,
    );
}
