//! SES v2 through the real `aws-sdk-sesv2` client: identities, SendEmail (Simple and Raw),
//! the outbox behind `GET /_wildrydes/outbox`, and SES's errors for bad input.

use aws_sdk_sesv2::config::interceptors::BeforeTransmitInterceptorContextMut;
use aws_sdk_sesv2::config::{ConfigBag, Intercept, RuntimeComponents};
use aws_sdk_sesv2::error::{BoxError, ProvideErrorMetadata};
use aws_sdk_sesv2::primitives::Blob;
use aws_sdk_sesv2::types::{
    Body, Content, Destination, EmailContent, IdentityFilterKey, IdentityType, Message, RawMessage, VerificationStatus,
};
use aws_smithy_types::body::SdkBody;
use http_body_util::BodyExt;
use serde_json::Value;

use crate::common::TestCloud;

const SENDER: &str = "no-reply@wildrydes.example";

/// The outbox as `GET /_wildrydes/outbox` shows it (unsigned, like the dashboard reads it).
pub async fn try_outbox(endpoint: &str) -> Result<Vec<Value>, String> {
    let client = hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
        .build_http::<http_body_util::Empty<bytes::Bytes>>();
    let uri: http::Uri = format!("{endpoint}/_wildrydes/outbox").parse().map_err(|e| format!("{e}"))?;
    let resp = client.get(uri).await.map_err(|e| format!("GET /_wildrydes/outbox: {e}"))?;
    let status = resp.status();
    let body = resp.into_body().collect().await.map_err(|e| format!("reading the outbox: {e}"))?.to_bytes();
    if status != http::StatusCode::OK {
        return Err(format!("GET /_wildrydes/outbox answered {status}: {}", String::from_utf8_lossy(&body)));
    }
    let value: Value = serde_json::from_slice(&body).map_err(|e| format!("the outbox is not JSON: {e}"))?;
    value["messages"].as_array().cloned().ok_or_else(|| format!("no `messages` array in {value}"))
}

pub async fn outbox(endpoint: &str) -> Vec<Value> {
    try_outbox(endpoint).await.expect("the outbox is readable")
}

fn strings(value: &Value) -> Vec<String> {
    value.as_array().map(|a| a.iter().filter_map(|v| v.as_str().map(str::to_string)).collect()).unwrap_or_default()
}

async fn create_identity(cloud: &TestCloud, name: &str) {
    cloud.clients.sesv2.create_email_identity().email_identity(name).send().await.expect("identity is created");
}

fn simple_content(subject: &str, text: &str) -> EmailContent {
    EmailContent::builder()
        .simple(
            Message::builder()
                .subject(Content::builder().data(subject).build().expect("subject has data"))
                .body(Body::builder().text(Content::builder().data(text).build().expect("text has data")).build())
                .build(),
        )
        .build()
}

fn to(address: &str) -> Destination {
    Destination::builder().to_addresses(address).build()
}

/// Replaces the serialized request before it is signed, so a correctly signed request can
/// carry what no SDK would send (a malformed body, an older API's method and path).
#[derive(Debug)]
struct Rewrite {
    method: Option<&'static str>,
    path: Option<(&'static str, &'static str)>,
    body: &'static str,
}

impl Intercept for Rewrite {
    fn name(&self) -> &'static str {
        "Rewrite"
    }

    fn modify_before_signing(
        &self,
        context: &mut BeforeTransmitInterceptorContextMut<'_>,
        _components: &RuntimeComponents,
        _cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let request = context.request_mut();
        if let Some(method) = self.method {
            request.set_method(method)?;
        }
        if let Some((from, into)) = self.path {
            let uri = request.uri().replace(from, into);
            request.set_uri(uri)?;
        }
        *request.body_mut() = SdkBody::from(self.body);
        request.headers_mut().insert("content-length", self.body.len().to_string());
        Ok(())
    }
}

fn rewrite_body(body: &'static str) -> aws_sdk_sesv2::config::Builder {
    aws_sdk_sesv2::config::Builder::default().interceptor(Rewrite { method: None, path: None, body })
}

#[tokio::test]
async fn email_and_domain_identities_are_created_verified_and_described() {
    let cloud = TestCloud::start().await;
    let ses = &cloud.clients.sesv2;

    let email = ses.create_email_identity().email_identity("rider@example.com").send().await.unwrap();
    assert_eq!(email.identity_type(), Some(&IdentityType::EmailAddress));
    assert!(email.verified_for_sending_status());

    let domain = ses.create_email_identity().email_identity("wildrydes.example").send().await.unwrap();
    assert_eq!(domain.identity_type(), Some(&IdentityType::Domain));
    assert!(domain.verified_for_sending_status());
    let tokens = domain.dkim_attributes().map(|d| d.tokens().len());
    assert_eq!(tokens, Some(3), "a domain gets Easy DKIM tokens");

    let got = ses.get_email_identity().email_identity("rider@example.com").send().await.unwrap();
    assert_eq!(got.identity_type(), Some(&IdentityType::EmailAddress));
    assert!(got.verified_for_sending_status());
    assert_eq!(got.verification_status(), Some(&VerificationStatus::Success));

    // Domains compare case-insensitively, as DNS does.
    let got = ses.get_email_identity().email_identity("WildRydes.Example").send().await.unwrap();
    assert_eq!(got.identity_type(), Some(&IdentityType::Domain));
}

#[tokio::test]
async fn creating_an_identity_twice_is_already_exists() {
    let cloud = TestCloud::start().await;
    create_identity(&cloud, "rider@example.com").await;
    let err = cloud
        .clients
        .sesv2
        .create_email_identity()
        .email_identity("rider@example.com")
        .send()
        .await
        .unwrap_err()
        .into_service_error();
    assert!(err.is_already_exists_exception(), "{err:?}");
    let list = cloud.clients.sesv2.list_email_identities().send().await.unwrap();
    assert_eq!(list.email_identities().len(), 1);
}

#[tokio::test]
async fn an_invalid_identity_is_a_bad_request_and_is_not_created() {
    let cloud = TestCloud::start().await;
    for bad in ["rider@exa mple.com", "not a domain", "@example.com", "-bad-.example.com"] {
        let err = cloud
            .clients
            .sesv2
            .create_email_identity()
            .email_identity(bad)
            .send()
            .await
            .unwrap_err()
            .into_service_error();
        assert!(err.is_bad_request_exception(), "{bad:?}: {err:?}");
    }
    let list = cloud.clients.sesv2.list_email_identities().send().await.unwrap();
    assert!(list.email_identities().is_empty());
}

#[tokio::test]
async fn unknown_identity_is_not_found_for_get_and_delete() {
    let cloud = TestCloud::start().await;
    let err = cloud.clients.sesv2.get_email_identity().email_identity("nobody@example.com").send().await.unwrap_err();
    assert_eq!(err.raw_response().map(|r| r.status().as_u16()), Some(404));
    let err = err.into_service_error();
    assert!(err.is_not_found_exception(), "{err:?}");
    assert_eq!(err.message(), Some("Email identity nobody@example.com does not exist."));

    let err = cloud
        .clients
        .sesv2
        .delete_email_identity()
        .email_identity("nobody@example.com")
        .send()
        .await
        .unwrap_err()
        .into_service_error();
    assert!(err.is_not_found_exception(), "{err:?}");
}

#[tokio::test]
async fn deleted_identity_is_gone_and_can_no_longer_send() {
    let cloud = TestCloud::start().await;
    create_identity(&cloud, SENDER).await;
    cloud.clients.sesv2.delete_email_identity().email_identity(SENDER).send().await.unwrap();

    let err = cloud.clients.sesv2.get_email_identity().email_identity(SENDER).send().await.unwrap_err();
    assert!(err.into_service_error().is_not_found_exception());
    let err = cloud
        .clients
        .sesv2
        .send_email()
        .from_email_address(SENDER)
        .destination(to("rider@example.com"))
        .content(simple_content("hi", "hello"))
        .send()
        .await
        .unwrap_err()
        .into_service_error();
    assert!(err.is_message_rejected(), "{err:?}");
}

#[tokio::test]
async fn list_email_identities_pages_through_every_identity() {
    let cloud = TestCloud::start().await;
    let mut names: Vec<String> = (0..7).map(|i| format!("rider{i}@example.com")).collect();
    for name in &names {
        create_identity(&cloud, name).await;
    }

    let mut seen = Vec::new();
    let mut page_sizes = Vec::new();
    let mut token: Option<String> = None;
    loop {
        let page = cloud.clients.sesv2.list_email_identities().page_size(3).set_next_token(token).send().await.unwrap();
        page_sizes.push(page.email_identities().len());
        for identity in page.email_identities() {
            assert_eq!(identity.identity_type(), Some(&IdentityType::EmailAddress));
            assert!(identity.sending_enabled());
            seen.push(identity.identity_name().unwrap_or_default().to_string());
        }
        token = page.next_token().map(str::to_string);
        if token.is_none() {
            break;
        }
    }
    assert_eq!(page_sizes, [3, 3, 1]);
    names.sort();
    seen.sort();
    assert_eq!(seen, names);

    // The SDK's own paginator agrees.
    let pages: Vec<_> =
        cloud.clients.sesv2.list_email_identities().page_size(2).into_paginator().send().collect().await;
    let total: usize = pages.into_iter().map(|p| p.unwrap().email_identities().len()).sum();
    assert_eq!(total, 7);

    let err = cloud.clients.sesv2.list_email_identities().next_token("!!not-a-token").send().await.unwrap_err();
    assert!(err.into_service_error().is_bad_request_exception());
}

#[tokio::test]
async fn list_email_identities_filters_by_name_and_type() {
    let cloud = TestCloud::start().await;
    for name in ["rider@example.com", "ops@example.com", "example.com", "wildrydes.example"] {
        create_identity(&cloud, name).await;
    }
    let names = |out: aws_sdk_sesv2::operation::list_email_identities::ListEmailIdentitiesOutput| {
        let mut names: Vec<String> =
            out.email_identities().iter().filter_map(|i| i.identity_name().map(str::to_string)).collect();
        names.sort();
        names
    };
    let domains = cloud.clients.sesv2.list_email_identities().filter(IdentityFilterKey::IdentityType, "DOMAIN");
    assert_eq!(names(domains.send().await.unwrap()), ["example.com", "wildrydes.example"]);
    // Case-insensitive substring of the name.
    let in_example_com =
        cloud.clients.sesv2.list_email_identities().filter(IdentityFilterKey::IdentityNameContains, "EXAMPLE.COM");
    assert_eq!(names(in_example_com.send().await.unwrap()), ["example.com", "ops@example.com", "rider@example.com"]);
}

#[tokio::test]
async fn older_clients_list_identities_with_get_and_query_parameters() {
    // The aws CLI and boto3 of before the API's change send `GET /v2/email/identities`.
    let cloud = TestCloud::start().await;
    for name in ["a@example.com", "b@example.com", "c@example.com"] {
        create_identity(&cloud, name).await;
    }
    let old_style = aws_sdk_sesv2::config::Builder::default().interceptor(Rewrite {
        method: Some("GET"),
        path: Some(("/v2/email/list-identities", "/v2/email/identities?PageSize=2")),
        body: "",
    });
    let page = cloud.clients.sesv2.list_email_identities().customize().config_override(old_style).send().await.unwrap();
    assert_eq!(page.email_identities().len(), 2);
    assert!(page.next_token().is_some());
}

#[tokio::test]
async fn simple_email_lands_in_the_outbox() {
    let cloud = TestCloud::start().await;
    create_identity(&cloud, SENDER).await;
    let content = EmailContent::builder()
        .simple(
            Message::builder()
                .subject(Content::builder().data("Photo does not meet requirements").charset("UTF-8").build().unwrap())
                .body(
                    Body::builder()
                        .text(Content::builder().data("Detected 2 faces in the photo.").build().unwrap())
                        .html(Content::builder().data("<p>Detected 2 faces in the photo.</p>").build().unwrap())
                        .build(),
                )
                .build(),
        )
        .build();
    let sent = cloud
        .clients
        .sesv2
        .send_email()
        .from_email_address(format!("Wild Rydes <{SENDER}>"))
        .destination(
            Destination::builder()
                .to_addresses("rider@example.com")
                .cc_addresses("ops@example.com")
                .bcc_addresses("audit@example.com")
                .build(),
        )
        .reply_to_addresses("help@wildrydes.example")
        .content(content)
        .send()
        .await
        .expect("a verified sender can send");
    let message_id = sent.message_id().expect("SendEmail returns a MessageId");

    let messages = outbox(&cloud.endpoint).await;
    assert_eq!(messages.len(), 1);
    let m = &messages[0];
    assert_eq!(m["messageId"], message_id);
    assert_eq!(m["kind"], "simple");
    assert_eq!(m["from"], format!("Wild Rydes <{SENDER}>"));
    assert_eq!(strings(&m["to"]), ["rider@example.com"]);
    assert_eq!(strings(&m["cc"]), ["ops@example.com"]);
    assert_eq!(strings(&m["bcc"]), ["audit@example.com"]);
    assert_eq!(strings(&m["replyTo"]), ["help@wildrydes.example"]);
    assert_eq!(m["subject"], "Photo does not meet requirements");
    assert_eq!(m["text"], "Detected 2 faces in the photo.");
    assert_eq!(m["html"], "<p>Detected 2 faces in the photo.</p>");
    assert!(m["raw"].is_null());
    assert!(
        m["timestamp"].as_str().is_some_and(|t| time::OffsetDateTime::parse(
            t,
            &time::format_description::well_known::Rfc3339
        )
        .is_ok())
    );
}

const RAW_MESSAGE: &str = "From: =?UTF-8?B?V2lsZCBSeWRlcw==?= <no-reply@wildrydes.example>\r\n\
To: rider@example.com,\r\n second@example.com\r\n\
Cc: ops@example.com\r\n\
Subject: =?UTF-8?Q?Your_photo_was_not_accepted_=E2=80=94_sunglasses?=\r\n\
MIME-Version: 1.0\r\n\
Content-Type: multipart/alternative; boundary=\"wildrydes-boundary\"\r\n\
\r\n\
--wildrydes-boundary\r\n\
Content-Type: text/plain; charset=UTF-8\r\n\
\r\n\
Face is wearing sunglasses\r\n\
--wildrydes-boundary\r\n\
Content-Type: text/html; charset=UTF-8\r\n\
\r\n\
<b>Face is wearing sunglasses</b>\r\n\
--wildrydes-boundary--\r\n";

fn raw_content(raw: &str) -> EmailContent {
    EmailContent::builder().raw(RawMessage::builder().data(Blob::new(raw.as_bytes())).build().unwrap()).build()
}

#[tokio::test]
async fn raw_email_lands_in_the_outbox_with_its_headers_read() {
    let cloud = TestCloud::start().await;
    // A domain identity authorises every address in it.
    create_identity(&cloud, "wildrydes.example").await;
    let sent =
        cloud.clients.sesv2.send_email().content(raw_content(RAW_MESSAGE)).send().await.expect("raw mail is sent");

    let messages = outbox(&cloud.endpoint).await;
    assert_eq!(messages.len(), 1);
    let m = &messages[0];
    assert_eq!(m["messageId"], sent.message_id().unwrap());
    assert_eq!(m["kind"], "raw");
    assert_eq!(m["from"], "Wild Rydes <no-reply@wildrydes.example>");
    assert_eq!(strings(&m["to"]), ["rider@example.com", "second@example.com"]);
    assert_eq!(strings(&m["cc"]), ["ops@example.com"]);
    assert_eq!(m["subject"], "Your photo was not accepted — sunglasses");
    assert_eq!(m["text"].as_str().map(str::trim), Some("Face is wearing sunglasses"));
    assert_eq!(m["html"].as_str().map(str::trim), Some("<b>Face is wearing sunglasses</b>"));
    assert_eq!(m["raw"], RAW_MESSAGE, "the raw message is kept byte for byte");
}

#[tokio::test]
async fn raw_email_destination_and_sender_override_its_headers() {
    let cloud = TestCloud::start().await;
    create_identity(&cloud, "other@example.com").await;
    cloud
        .clients
        .sesv2
        .send_email()
        .from_email_address("other@example.com")
        .destination(Destination::builder().bcc_addresses("hidden@example.com").build())
        .content(raw_content(RAW_MESSAGE))
        .send()
        .await
        .expect("FromEmailAddress is the identity checked");
    let m = &outbox(&cloud.endpoint).await[0];
    assert_eq!(m["from"], "other@example.com");
    assert_eq!(strings(&m["to"]), Vec::<String>::new());
    assert_eq!(strings(&m["bcc"]), ["hidden@example.com"]);
}

#[tokio::test]
async fn unverified_sender_is_rejected_and_nothing_reaches_the_outbox() {
    let cloud = TestCloud::start().await;
    create_identity(&cloud, "someone-else@example.com").await;
    let err = cloud
        .clients
        .sesv2
        .send_email()
        .from_email_address("stranger@example.com")
        .destination(to("rider@example.com"))
        .content(simple_content("hi", "hello"))
        .send()
        .await
        .unwrap_err();
    assert_eq!(err.raw_response().map(|r| r.status().as_u16()), Some(400));
    let error_type = err.raw_response().and_then(|r| r.headers().get("x-amzn-errortype")).map(str::to_string);
    assert_eq!(error_type.as_deref(), Some("MessageRejected"));
    let err = err.into_service_error();
    assert!(err.is_message_rejected(), "{err:?}");
    assert_eq!(
        err.message(),
        Some(
            "Email address is not verified. The following identities failed the check in region US-EAST-1: \
             stranger@example.com"
        )
    );

    // The same for a raw message whose From header names an unverified sender.
    let err = cloud.clients.sesv2.send_email().content(raw_content(RAW_MESSAGE)).send().await.unwrap_err();
    assert!(err.into_service_error().is_message_rejected());
    assert!(outbox(&cloud.endpoint).await.is_empty());
}

#[tokio::test]
async fn invalid_addresses_are_bad_requests_and_nothing_is_sent() {
    let cloud = TestCloud::start().await;
    create_identity(&cloud, SENDER).await;
    for (recipient, message) in [
        ("rider", "Missing final '@domain'"),
        ("rider@", "Missing domain"),
        ("rider@example.comsecond@example.com", "Illegal address"),
        ("", "Invalid email address ."),
    ] {
        let err = cloud
            .clients
            .sesv2
            .send_email()
            .from_email_address(SENDER)
            .destination(to(recipient))
            .content(simple_content("hi", "hello"))
            .send()
            .await
            .unwrap_err()
            .into_service_error();
        assert!(err.is_bad_request_exception(), "{recipient:?}: {err:?}");
        assert_eq!(err.message(), Some(message), "{recipient:?}");
    }
    let err = cloud
        .clients
        .sesv2
        .send_email()
        .from_email_address("not-an-address")
        .destination(to("rider@example.com"))
        .content(simple_content("hi", "hello"))
        .send()
        .await
        .unwrap_err()
        .into_service_error();
    assert!(err.is_bad_request_exception(), "{err:?}");
    assert!(outbox(&cloud.endpoint).await.is_empty());
}

#[tokio::test]
async fn missing_members_are_bad_requests_naming_the_member() {
    let cloud = TestCloud::start().await;
    create_identity(&cloud, SENDER).await;
    let ses = &cloud.clients.sesv2;

    let no_destination =
        ses.send_email().from_email_address(SENDER).content(simple_content("hi", "hello")).send().await.unwrap_err();
    let no_content = ses.send_email().from_email_address(SENDER).destination(to("rider@example.com")).send().await;
    let no_subject = ses
        .send_email()
        .from_email_address(SENDER)
        .destination(to("rider@example.com"))
        .content(
            EmailContent::builder()
                .simple(
                    Message::builder()
                        .body(Body::builder().text(Content::builder().data("x").build().unwrap()).build())
                        .build(),
                )
                .build(),
        )
        .send()
        .await;
    let no_recipients = ses
        .send_email()
        .from_email_address(SENDER)
        .destination(Destination::builder().build())
        .content(simple_content("hi", "hello"))
        .send()
        .await;
    let no_identity = ses.create_email_identity().send().await;

    for (what, member, result) in [
        ("destination", "'destination'", no_destination.into_service_error().meta().clone()),
        ("content", "'content'", no_content.unwrap_err().into_service_error().meta().clone()),
        ("subject", "'content.simple.subject'", no_subject.unwrap_err().into_service_error().meta().clone()),
        ("recipients", "recipient", no_recipients.unwrap_err().into_service_error().meta().clone()),
        ("identity", "'emailIdentity'", no_identity.unwrap_err().into_service_error().meta().clone()),
    ] {
        assert_eq!(result.code(), Some("BadRequestException"), "{what}");
        assert!(result.message().unwrap_or("").contains(member), "{what}: {:?}", result.message());
    }
    assert!(outbox(&cloud.endpoint).await.is_empty());
}

#[tokio::test]
async fn malformed_json_body_is_a_bad_request() {
    let cloud = TestCloud::start().await;
    create_identity(&cloud, SENDER).await;
    for body in [r#"{"FromEmailAddress": "#, r#"{"FromEmailAddress": 42}"#, "[1, 2, 3]"] {
        let err = cloud
            .clients
            .sesv2
            .send_email()
            .from_email_address(SENDER)
            .destination(to("rider@example.com"))
            .content(simple_content("hi", "hello"))
            .customize()
            .config_override(rewrite_body(body))
            .send()
            .await
            .unwrap_err();
        assert_eq!(err.raw_response().map(|r| r.status().as_u16()), Some(400), "{body}");
        let err = err.into_service_error();
        assert!(err.is_bad_request_exception(), "{body}: {err:?}");
    }
    let err = cloud
        .clients
        .sesv2
        .create_email_identity()
        .email_identity("x@example.com")
        .customize()
        .config_override(rewrite_body("{not json"))
        .send()
        .await
        .unwrap_err()
        .into_service_error();
    assert!(err.is_bad_request_exception(), "{err:?}");
    assert!(outbox(&cloud.endpoint).await.is_empty());
    let list = cloud.clients.sesv2.list_email_identities().send().await.unwrap();
    assert_eq!(list.email_identities().len(), 1, "only the sender identity exists");
}

#[tokio::test]
async fn raw_content_that_is_not_a_mime_message_is_a_bad_request() {
    let cloud = TestCloud::start().await;
    create_identity(&cloud, SENDER).await;
    let err = cloud
        .clients
        .sesv2
        .send_email()
        .from_email_address(SENDER)
        .destination(to("rider@example.com"))
        .content(raw_content(""))
        .send()
        .await
        .unwrap_err()
        .into_service_error();
    assert!(err.is_bad_request_exception(), "{err:?}");
    // A MIME message with no From header and no FromEmailAddress has no sender.
    let err = cloud
        .clients
        .sesv2
        .send_email()
        .content(raw_content("To: rider@example.com\r\nSubject: x\r\n\r\nbody\r\n"))
        .send()
        .await
        .unwrap_err()
        .into_service_error();
    assert!(err.is_bad_request_exception(), "{err:?}");
    assert_eq!(err.message(), Some("Missing required header 'From'."));
    assert!(outbox(&cloud.endpoint).await.is_empty());
}

#[tokio::test]
async fn outbox_is_newest_first_and_survives_a_restart() {
    let cloud = TestCloud::start().await;
    create_identity(&cloud, SENDER).await;
    let mut ids = Vec::new();
    for i in 0..3 {
        let sent = cloud
            .clients
            .sesv2
            .send_email()
            .from_email_address(SENDER)
            .destination(to("rider@example.com"))
            .content(simple_content(&format!("message {i}"), "body"))
            .send()
            .await
            .unwrap();
        ids.push(sent.message_id().unwrap().to_string());
    }
    let before = outbox(&cloud.endpoint).await;
    let subjects: Vec<_> = before.iter().map(|m| m["subject"].as_str().unwrap_or("").to_string()).collect();
    assert_eq!(subjects, ["message 2", "message 1", "message 0"]);

    let cloud = cloud.restart().await;
    let after = outbox(&cloud.endpoint).await;
    assert_eq!(after, before);
    let after_ids: Vec<_> = after.iter().rev().map(|m| m["messageId"].as_str().unwrap_or("").to_string()).collect();
    assert_eq!(after_ids, ids);
    // Identities survive too: the sender can still send.
    cloud
        .clients
        .sesv2
        .send_email()
        .from_email_address(SENDER)
        .destination(to("rider@example.com"))
        .content(simple_content("after restart", "body"))
        .send()
        .await
        .expect("the identity survived the restart");
    assert_eq!(outbox(&cloud.endpoint).await.len(), 4);
}
