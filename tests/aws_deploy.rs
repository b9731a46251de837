//! The one-command deploy to an account (`wildrydes --aws deploy`) and its clean-up, run as
//! the real binary against moto's server standing in for AWS: the two IAM roles made with
//! their policies, the six functions from prepared zips (moto keeps code it does not run),
//! the buckets, the table and the four state machines with the real function ARNs in their
//! definitions; deploying again changes nothing; the operator's commands read what was
//! deployed; `cleanup` leaves nothing, roles included. Checked through the SDK against moto.

use std::path::Path;

use serde_json::Value;

use crate::aws::{clients, on_moto, on_moto_command, said};
use crate::common::{Moto, test_venv};

const ACCOUNT_BUCKET_SUFFIX: &str = "123456789012-us-east-1";
const LAMBDA_ROLE: &str = "wildrydes-lambda-us-east-1";
const STATES_ROLE: &str = "wildrydes-states-us-east-1";

/// A `<binary>/bootstrap.zip` for each function, as `cargo lambda build --output-format zip`
/// lays them out. moto stores the code without running it, so any valid zip does.
fn prepared_zips(dir: &Path) {
    let binaries = wildrydes::workshop::FUNCTIONS.iter().chain([&wildrydes::workshop::UPLOAD_TRIGGER]);
    for spec in binaries {
        let zip = wildrydes::local::lambda::code::zip_bootstrap(format!("#!/bin/sh\n# {}\n", spec.binary).as_bytes())
            .expect("zipped");
        std::fs::create_dir_all(dir.join(spec.binary)).unwrap();
        std::fs::write(dir.join(spec.binary).join("bootstrap.zip"), zip).unwrap();
    }
}

/// The outputs deploy prints after its progress lines.
fn outputs(text: &str) -> Value {
    let json = text.split_once("\nOutputs:\n").map(|(_, json)| json).unwrap_or_else(|| panic!("no outputs: {text}"));
    serde_json::from_str(json).unwrap_or_else(|e| panic!("outputs are JSON ({e}): {json}"))
}

/// The progress line of `resource`.
fn line<'a>(text: &'a str, resource: &str) -> &'a str {
    text.lines().find(|l| l.trim_start().starts_with(resource)).unwrap_or_else(|| panic!("no line {resource}: {text}"))
}

#[tokio::test]
async fn deploy_to_a_stand_in_account_makes_roles_functions_and_machines_and_cleanup_leaves_nothing() {
    let Some(venv) =
        test_venv("deploy_to_a_stand_in_account_makes_roles_functions_and_machines_and_cleanup_leaves_nothing")
    else {
        return;
    };
    let moto = Moto::spawn(&venv.join("bin/moto_server"));
    let c = clients(&moto).await;
    let zips = tempfile::tempdir().expect("a zips directory");
    prepared_zips(zips.path());
    let zips_dir = zips.path().to_str().unwrap();

    let first = on_moto(&moto, &["deploy", "--lambda-zips", zips_dir]);
    let text = said(&first);
    assert!(first.status.success(), "{text}");
    assert!(line(&text, &format!("role {LAMBDA_ROLE}")).ends_with("created"), "{text}");
    assert!(line(&text, &format!("role {STATES_ROLE}")).ends_with("created"), "{text}");
    // moto has no Rekognition collections: the step says so and the rest deploys.
    assert!(
        line(&text, "collection rider-photos")
            .ends_with("skipped: the endpoint does not implement Rekognition CreateCollection"),
        "{text}"
    );
    let deployed = outputs(&text);

    // The roles: each trusted by its service, with the policy naming this deploy's resources.
    let lambda_role = c.iam.get_role().role_name(LAMBDA_ROLE).send().await.expect("the functions' role").role.unwrap();
    let states_role = c.iam.get_role().role_name(STATES_ROLE).send().await.expect("the machines' role").role.unwrap();
    assert!(lambda_role.assume_role_policy_document().unwrap().contains("lambda.amazonaws.com"));
    assert!(states_role.assume_role_policy_document().unwrap().contains("states.amazonaws.com"));
    let policy = c.iam.get_role_policy().role_name(LAMBDA_ROLE).policy_name("wildrydes").send().await.unwrap();
    let policy = percent_decode(&policy.policy_document);
    assert!(policy.contains(&format!("arn:aws:s3:::wildrydes-thumbnails-{ACCOUNT_BUCKET_SUFFIX}/*")), "{policy}");

    // The six functions, with the made role and the architecture AWS runs them on.
    let functions = c.lambda.list_functions().send().await.expect("functions listed");
    let ours: Vec<_> =
        functions.functions().iter().filter(|f| f.function_name().unwrap().starts_with("wildrydes-")).collect();
    assert_eq!(ours.len(), 6, "{ours:?}");
    for function in &ours {
        assert_eq!(function.role(), Some(lambda_role.arn()));
        assert_eq!(function.architectures(), [aws_sdk_lambda::types::Architecture::Arm64]);
    }
    let function_arns: Vec<&str> = ours.iter().map(|f| f.function_arn().unwrap()).collect();
    for output in ["FaceDetectionFunctionArn", "PersistMetadataFunctionArn"] {
        assert!(function_arns.contains(&deployed[output].as_str().unwrap()), "{deployed}");
    }

    // The four machines, their definitions naming the real function ARNs, their role the made one.
    let machines = deployed["StateMachineArns"].as_object().expect("machine ARNs");
    assert_eq!(machines.len(), 4, "{deployed}");
    for arn in machines.values() {
        let machine = c.sfn.describe_state_machine().state_machine_arn(arn.as_str().unwrap()).send().await.unwrap();
        assert_eq!(machine.role_arn(), states_role.arn());
        assert!(!machine.definition().contains("${"), "placeholders left: {}", machine.definition());
    }
    let last = c.sfn.describe_state_machine().state_machine_arn(machines["RiderPhotoProcessing-4"].as_str().unwrap());
    let last = last.send().await.unwrap();
    for arn in &function_arns {
        assert!(last.definition().contains(arn), "{arn} not in {}", last.definition());
    }

    // The buckets (selfies uploaded) and the table.
    let photos = format!("wildrydes-riderphotos-{ACCOUNT_BUCKET_SUFFIX}");
    let listed = c.s3.list_objects_v2().bucket(&photos).send().await.expect("the photo bucket");
    assert_eq!(listed.key_count(), Some(wildrydes::workshop::SELFIES.len() as i32));
    c.s3.head_bucket()
        .bucket(format!("wildrydes-thumbnails-{ACCOUNT_BUCKET_SUFFIX}"))
        .send()
        .await
        .expect("thumbnails");
    c.dynamodb.describe_table().table_name(deployed["RiderPhotoDDBTable"].as_str().unwrap()).send().await.unwrap();

    // Again: nothing changes (the collection is still skipped), and the outputs are the same.
    let again = on_moto(&moto, &["deploy", "--lambda-zips", zips_dir]);
    let text = said(&again);
    assert!(again.status.success(), "{text}");
    let (progress, _) = text.split_once("\nOutputs:\n").expect("progress, then the outputs");
    let progress: Vec<&str> = progress.lines().filter(|l| l.starts_with("  ")).collect();
    assert!(progress.len() > 20, "{text}");
    let changed: Vec<&&str> =
        progress.iter().filter(|l| !l.ends_with("unchanged") && !l.contains("skipped:")).collect();
    assert!(changed.is_empty(), "a second deploy changes nothing: {changed:?}");
    assert_eq!(outputs(&text), deployed);

    // The operator's commands read what was deployed. moto does not run the functions, so
    // its execution stays RUNNING; Rekognition's ListFaces (like CreateCollection,
    // DetectFaces, SearchFacesByImage and IndexFaces) is not in moto, so `faces` can only
    // say that in one sentence.
    c.sfn
        .start_execution()
        .state_machine_arn(machines["RiderPhotoProcessing-4"].as_str().unwrap())
        .name("on-the-deployed-machine")
        .input(r#"{"userId": "user_a", "s3Key": "1_happy_face.jpg"}"#)
        .send()
        .await
        .expect("an execution in moto");
    let listed = on_moto(&moto, &["executions", "list", "--json"]);
    assert!(listed.status.success(), "{}", said(&listed));
    let rows: Value = serde_json::from_slice(&listed.stdout).expect("JSON list");
    assert!(rows.as_array().unwrap().iter().any(|r| r["name"] == "on-the-deployed-machine"), "{rows}");
    let faces = on_moto(&moto, &["faces"]);
    assert_eq!(faces.status.code(), Some(1));
    assert!(said(&faces).contains("it may not implement this call"), "{}", said(&faces));

    // Clean-up leaves nothing: roles, functions, machines, buckets and table all gone.
    let cleanup = on_moto(&moto, &["cleanup"]);
    let text = said(&cleanup);
    assert!(cleanup.status.success(), "{text}");
    assert!(line(&text, &format!("role {LAMBDA_ROLE}")).ends_with("deleted"), "{text}");
    assert!(line(&text, &format!("role {STATES_ROLE}")).ends_with("deleted"), "{text}");
    for role in [LAMBDA_ROLE, STATES_ROLE] {
        let gone = c.iam.get_role().role_name(role).send().await.expect_err("the role is gone");
        assert_eq!(gone.as_service_error().and_then(|e| e.meta().code()), Some("NoSuchEntity"));
    }
    assert!(c.iam.list_roles().send().await.unwrap().roles().iter().all(|r| !r.role_name().starts_with("wildrydes-")));
    assert!(c.lambda.list_functions().send().await.unwrap().functions().is_empty());
    assert!(c.sfn.list_state_machines().send().await.unwrap().state_machines().is_empty());
    assert!(c.s3.list_buckets().send().await.unwrap().buckets().is_empty());
    assert!(c.dynamodb.list_tables().send().await.unwrap().table_names().is_empty());
    let twice = on_moto(&moto, &["cleanup"]);
    assert!(twice.status.success(), "{}", said(&twice));
    assert!(line(&said(&twice), &format!("role {LAMBDA_ROLE}")).ends_with("already gone"), "{}", said(&twice));
}

#[tokio::test]
async fn without_zips_or_cargo_lambda_deploy_says_how_to_get_either_and_makes_nothing() {
    let Some(venv) = test_venv("without_zips_or_cargo_lambda_deploy_says_how_to_get_either_and_makes_nothing") else {
        return;
    };
    let moto = Moto::spawn(&venv.join("bin/moto_server"));
    let empty = tempfile::tempdir().expect("a PATH without cargo-lambda");
    let out = on_moto_command(&moto, &["deploy"]).env("PATH", empty.path()).output().expect("wildrydes runs");
    assert_eq!(out.status.code(), Some(1));
    let text = said(&out);
    assert!(
        text.contains("needs cargo-lambda, which is not on PATH")
            && text.contains("pip install cargo-lambda")
            && text.contains("--lambda-zips DIR"),
        "{text}"
    );
    let c = clients(&moto).await;
    assert!(c.s3.list_buckets().send().await.unwrap().buckets().is_empty(), "nothing is made before the build");
    assert!(c.iam.list_roles().send().await.unwrap().roles().is_empty());
}

fn percent_decode(text: &str) -> String {
    percent_encoding::percent_decode_str(text).decode_utf8_lossy().into_owned()
}

#[tokio::test]
async fn given_roles_are_used_as_they_are_and_cleanup_leaves_them() {
    let Some(venv) = test_venv("given_roles_are_used_as_they_are_and_cleanup_leaves_them") else {
        return;
    };
    let moto = Moto::spawn(&venv.join("bin/moto_server"));
    let c = clients(&moto).await;
    let mut given = Vec::new();
    for (name, service) in [("mine-lambda", "lambda.amazonaws.com"), ("mine-states", "states.amazonaws.com")] {
        let trust = format!(
            r#"{{"Version":"2012-10-17","Statement":[{{"Effect":"Allow","Principal":{{"Service":"{service}"}},"Action":"sts:AssumeRole"}}]}}"#
        );
        let made = c.iam.create_role().role_name(name).assume_role_policy_document(trust).send().await.unwrap();
        given.push(made.role.unwrap().arn);
    }
    let zips = tempfile::tempdir().expect("a zips directory");
    prepared_zips(zips.path());
    let zips_dir = zips.path().to_str().unwrap();
    let roles = ["--lambda-role-arn", &given[0], "--states-role-arn", &given[1]];

    let deploy = on_moto(&moto, &[&["deploy", "--lambda-zips", zips_dir][..], &roles].concat());
    let text = said(&deploy);
    assert!(deploy.status.success(), "{text}");
    assert!(!text.contains("role "), "no role is made or changed: {text}");
    let functions = c.lambda.list_functions().send().await.unwrap();
    assert!(functions.functions().iter().all(|f| f.role() == Some(given[0].as_str())));
    let machine = outputs(&text)["StateMachineArns"]["RiderPhotoProcessing-4"].as_str().unwrap().to_string();
    let machine = c.sfn.describe_state_machine().state_machine_arn(machine).send().await.unwrap();
    assert_eq!(machine.role_arn(), given[1]);
    // Nothing is written to a given role.
    let policies = c.iam.list_role_policies().role_name("mine-lambda").send().await.unwrap();
    assert!(policies.policy_names().is_empty(), "{policies:?}");

    let cleanup = on_moto(&moto, &[&["cleanup"][..], &roles].concat());
    assert!(cleanup.status.success(), "{}", said(&cleanup));
    assert!(!said(&cleanup).contains("role "), "{}", said(&cleanup));
    for name in ["mine-lambda", "mine-states"] {
        c.iam.get_role().role_name(name).send().await.expect("a given role is left alone");
    }
}
