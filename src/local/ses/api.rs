//! SES v2's operations: `handle` maps method and path to the operation; identities and the
//! outbox are SQLite tables (`ses_identities`, `ses_outbox`).

use std::collections::HashMap;

use base64::Engine;
use http::{Method, StatusCode};
use rusqlite::{OptionalExtension, params};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::Ses;
use crate::local::protocol::{ApiError, ApiRequest, Protocol, Response, json_response};
use crate::local::storage::StorageError;

/// SES v2 accepts raw messages of up to 40 MB.
const MAX_RAW_MESSAGE: usize = 40 * 1024 * 1024;
/// SES refuses a message with more recipients than this (To, Cc and Bcc together).
const MAX_RECIPIENTS: usize = 50;
/// ListEmailIdentities' PageSize bounds.
const MAX_PAGE_SIZE: i64 = 1000;
const DEFAULT_PAGE_SIZE: i64 = 100;

/// What can go wrong in SES; each becomes the error SES v2 itself sends.
#[derive(Debug, thiserror::Error)]
pub enum SesError {
    #[error("{0}")]
    BadRequest(String),
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    AlreadyExists(String),
    #[error("{0}")]
    MessageRejected(String),
    #[error("{0}")]
    UnknownOperation(String),
    #[error(transparent)]
    Storage(#[from] StorageError),
}

impl From<SesError> for ApiError {
    fn from(e: SesError) -> Self {
        match e {
            SesError::BadRequest(m) => ApiError::bad_request("BadRequestException", m),
            SesError::NotFound(m) => ApiError::new(StatusCode::NOT_FOUND, "NotFoundException", m),
            SesError::AlreadyExists(m) => ApiError::bad_request("AlreadyExistsException", m),
            SesError::MessageRejected(m) => ApiError::bad_request("MessageRejected", m),
            SesError::UnknownOperation(m) => ApiError::new(StatusCode::NOT_FOUND, "UnknownOperationException", m),
            SesError::Storage(e) => e.into(),
        }
    }
}

/// AWS's wording for a required member that was not sent.
fn missing(member: &str) -> SesError {
    SesError::BadRequest(format!(
        "1 validation error detected: Value null at '{member}' failed to satisfy constraint: Member must not be null"
    ))
}

impl Ses {
    pub async fn handle(&self, req: ApiRequest) -> Result<Response, ApiError> {
        let path = req.path.trim_end_matches('/');
        let result = match (&req.method, path) {
            (&Method::POST, "/v2/email/identities") => self.create_email_identity(&req).await,
            (&Method::GET, "/v2/email/identities") => self.list_email_identities(&req).await,
            (&Method::POST, "/v2/email/list-identities") => self.list_email_identities(&req).await,
            (&Method::POST, "/v2/email/outbound-emails") => self.send_email(&req).await,
            (method, path) => match path.strip_prefix("/v2/email/identities/") {
                // Sub-resources (dkim, policies, mail-from…) are not part of this local cloud.
                Some(identity) if !identity.is_empty() && !identity.contains('/') => match *method {
                    Method::GET => self.get_email_identity(identity).await,
                    Method::DELETE => self.delete_email_identity(identity).await,
                    _ => Err(unknown_operation(method, path)),
                },
                _ => Err(unknown_operation(method, path)),
            },
        };
        result.map_err(ApiError::from)
    }

    /// The outbox as JSON, newest first: `{"messages": [...]}`.
    pub async fn outbox_response(&self) -> Result<Response, ApiError> {
        let messages = self.store.call(read_outbox).await?;
        Ok(json_response(Protocol::RestJson, StatusCode::OK, &json!({ "messages": messages })))
    }

    async fn create_email_identity(&self, req: &ApiRequest) -> Result<Response, SesError> {
        let input: CreateEmailIdentityInput = json_body(req)?;
        let name = input.email_identity.ok_or_else(|| missing("emailIdentity"))?;
        let identity = Identity::parse(&name)?;
        let tags = serde_json::to_string(&input.tags.unwrap_or_default()).unwrap_or_else(|_| "[]".into());
        let row = IdentityRow {
            key: identity.key.clone(),
            name: name.trim().to_string(),
            identity_type: identity.kind,
            configuration_set: input.configuration_set_name,
            tags,
            created_at: time::OffsetDateTime::now_utc().unix_timestamp(),
        };
        let response = identity_summary(&row);
        let inserted = self
            .store
            .call(move |conn| {
                let changed = conn.execute(
                    "INSERT INTO ses_identities (key, name, identity_type, configuration_set, tags, created_at)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6) ON CONFLICT(key) DO NOTHING",
                    params![
                        row.key,
                        row.name,
                        row.identity_type.as_str(),
                        row.configuration_set,
                        row.tags,
                        row.created_at
                    ],
                )?;
                Ok(changed == 1)
            })
            .await?;
        if !inserted {
            return Err(SesError::AlreadyExists(format!("Email identity {} already exists.", name.trim())));
        }
        Ok(ok_json(&response))
    }

    async fn get_email_identity(&self, name: &str) -> Result<Response, SesError> {
        let row = self.find_identity(name).await?;
        let mut body = identity_summary(&row);
        let tags: Value = serde_json::from_str(&row.tags).unwrap_or_else(|_| json!([]));
        body["FeedbackForwardingStatus"] = json!(true);
        body["VerificationStatus"] = json!("SUCCESS");
        body["Policies"] = json!({});
        body["Tags"] = tags;
        if let Some(set) = &row.configuration_set {
            body["ConfigurationSetName"] = json!(set);
        }
        Ok(ok_json(&body))
    }

    async fn delete_email_identity(&self, name: &str) -> Result<Response, SesError> {
        let row = self.find_identity(name).await?;
        self.store
            .call(move |conn| {
                conn.execute("DELETE FROM ses_identities WHERE key = ?1", params![row.key])?;
                Ok(())
            })
            .await?;
        Ok(ok_json(&json!({})))
    }

    async fn find_identity(&self, name: &str) -> Result<IdentityRow, SesError> {
        let not_found = || SesError::NotFound(format!("Email identity {name} does not exist."));
        // A name that cannot be an identity cannot have been created either.
        let key = Identity::parse(name).map_err(|_| not_found())?.key;
        self.store.call(move |conn| identity_row(conn, &key)).await?.ok_or_else(not_found)
    }

    async fn list_email_identities(&self, req: &ApiRequest) -> Result<Response, SesError> {
        // The current API sends its parameters as a JSON body; older clients (the aws CLI
        // v1, boto3 before the change) send a GET with query parameters.
        let input: ListEmailIdentitiesInput = if req.method == Method::GET {
            ListEmailIdentitiesInput {
                filter: None,
                next_token: req.query_param("NextToken").map(str::to_string),
                page_size: match req.query_param("PageSize") {
                    Some(v) => Some(
                        v.parse::<i64>()
                            .map_err(|_| SesError::BadRequest(format!("PageSize must be an integer, got '{v}'.")))?,
                    ),
                    None => None,
                },
            }
        } else {
            json_body(req)?
        };
        let page_size = match input.page_size {
            None | Some(0) => DEFAULT_PAGE_SIZE,
            Some(n) if (1..=MAX_PAGE_SIZE).contains(&n) => n,
            Some(n) => {
                return Err(SesError::BadRequest(format!(
                    "1 validation error detected: Value '{n}' at 'pageSize' failed to satisfy constraint: \
                     Member must have value between 0 and {MAX_PAGE_SIZE}"
                )));
            }
        };
        let filter = IdentityFilter::parse(input.filter.unwrap_or_default())?;
        let after = match input.next_token.as_deref().filter(|t| !t.is_empty()) {
            Some(token) => Some(decode_token(token)?),
            None => None,
        };
        let rows = self
            .store
            .call(move |conn| {
                let mut stmt = conn.prepare(
                    "SELECT key, name, identity_type, configuration_set, tags, created_at
                     FROM ses_identities WHERE key > ?1 ORDER BY key",
                )?;
                let rows = stmt
                    .query_map(params![after.unwrap_or_default()], row_to_identity)?
                    .collect::<Result<Vec<_>, _>>()?;
                Ok(rows)
            })
            .await?;
        let mut matching = rows.into_iter().filter(|row| filter.matches(row));
        let page: Vec<IdentityRow> = matching.by_ref().take(page_size as usize).collect();
        let more = matching.next().is_some();
        let identities: Vec<Value> = page
            .iter()
            .map(|row| {
                json!({
                    "IdentityType": row.identity_type.as_str(),
                    "IdentityName": row.name,
                    "SendingEnabled": true,
                    "VerificationStatus": "SUCCESS",
                })
            })
            .collect();
        let mut body = json!({ "EmailIdentities": identities });
        if more && let Some(last) = page.last() {
            body["NextToken"] = json!(encode_token(&last.key));
        }
        Ok(ok_json(&body))
    }

    async fn send_email(&self, req: &ApiRequest) -> Result<Response, SesError> {
        let input: SendEmailInput = json_body(req)?;
        let content = input.content.ok_or_else(|| missing("content"))?;
        let reply_to = parse_list(input.reply_to_addresses.unwrap_or_default())?;
        let given_from = match input.from_email_address.as_deref().map(str::trim).filter(|s| !s.is_empty()) {
            Some(from) => Some(Mailbox::parse(from).map_err(SesError::BadRequest)?),
            None => None,
        };
        let destination = match input.destination {
            Some(d) => Some(Recipients {
                to: parse_list(d.to_addresses.unwrap_or_default())?,
                cc: parse_list(d.cc_addresses.unwrap_or_default())?,
                bcc: parse_list(d.bcc_addresses.unwrap_or_default())?,
            }),
            None => None,
        };

        let mail = match (content.simple, content.raw, content.template) {
            (Some(simple), None, None) => {
                let from = given_from.ok_or_else(|| missing("fromEmailAddress"))?;
                let recipients = destination.ok_or_else(|| missing("destination"))?;
                let subject = simple.subject.ok_or_else(|| missing("content.simple.subject"))?;
                let subject = subject.data.ok_or_else(|| missing("content.simple.subject.data"))?;
                let body = simple.body.ok_or_else(|| missing("content.simple.body"))?;
                OutgoingMail {
                    kind: "simple",
                    from,
                    recipients,
                    reply_to,
                    subject: Some(subject),
                    text: body
                        .text
                        .map(|t| t.data.ok_or_else(|| missing("content.simple.body.text.data")))
                        .transpose()?,
                    html: body
                        .html
                        .map(|h| h.data.ok_or_else(|| missing("content.simple.body.html.data")))
                        .transpose()?,
                    raw: None,
                }
            }
            (None, Some(raw), None) => {
                let data = raw.data.ok_or_else(|| missing("content.raw.data"))?;
                let bytes = base64::engine::general_purpose::STANDARD
                    .decode(data.trim())
                    .map_err(|e| SesError::BadRequest(format!("Content.Raw.Data is not valid base64: {e}")))?;
                raw_mail(bytes, given_from, destination, reply_to)?
            }
            (None, None, Some(_)) => {
                return Err(SesError::BadRequest(
                    "Templated email is not available in this local cloud: send Simple or Raw content.".into(),
                ));
            }
            _ => {
                return Err(SesError::BadRequest(
                    "The email content must be exactly one of Simple, Raw or Template.".into(),
                ));
            }
        };

        let count = mail.recipients.to.len() + mail.recipients.cc.len() + mail.recipients.bcc.len();
        if count == 0 {
            return Err(SesError::BadRequest(
                "The message must have at least one recipient (ToAddresses, CcAddresses or BccAddresses).".into(),
            ));
        }
        if count > MAX_RECIPIENTS {
            return Err(SesError::BadRequest(format!("Recipient count exceeds {MAX_RECIPIENTS}.")));
        }

        // The sender must be a created identity: the address itself or its domain (or a
        // parent domain: SES lets a verified domain send from its subdomains).
        let candidates = mail.from.identity_candidates();
        let verified = self
            .store
            .call(move |conn| {
                let mut stmt = conn.prepare("SELECT 1 FROM ses_identities WHERE key = ?1")?;
                for key in &candidates {
                    if stmt.exists(params![key])? {
                        return Ok(true);
                    }
                }
                Ok(false)
            })
            .await?;
        if !verified {
            return Err(SesError::MessageRejected(format!(
                "Email address is not verified. The following identities failed the check in region {}: {}",
                req.scope.region.to_ascii_uppercase(),
                mail.from.address
            )));
        }

        let message_id = new_message_id();
        let id = message_id.clone();
        // The response is sent only after the row is committed (synchronous=FULL), so an
        // acknowledged message survives a crash.
        self.store.call(move |conn| insert_outbox(conn, &id, &mail)).await?;
        Ok(ok_json(&json!({ "MessageId": message_id })))
    }
}

fn unknown_operation(method: &Method, path: &str) -> SesError {
    SesError::UnknownOperation(format!("SES v2 in this local cloud has no operation for {method} {path}."))
}

/// The body as JSON. SES v2 models every malformed request as BadRequestException, so a
/// body that is not JSON (or has a member of the wrong type) is one too.
fn json_body<T: serde::de::DeserializeOwned>(req: &ApiRequest) -> Result<T, SesError> {
    req.json_body().map_err(|e| SesError::BadRequest(e.message))
}

fn ok_json(value: &Value) -> Response {
    json_response(Protocol::RestJson, StatusCode::OK, value)
}

/// An SES-shaped message id: the send time in hex, a UUID, and a sequence suffix.
fn new_message_id() -> String {
    let millis = time::OffsetDateTime::now_utc().unix_timestamp_nanos() / 1_000_000;
    format!("{millis:016x}-{}-000000", uuid::Uuid::new_v4())
}

fn encode_token(key: &str) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(key)
}

fn decode_token(token: &str) -> Result<String, SesError> {
    base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(token)
        .ok()
        .and_then(|bytes| String::from_utf8(bytes).ok())
        .ok_or_else(|| SesError::BadRequest(format!("Invalid NextToken: {token}")))
}

// ---------------------------------------------------------------------------------------
// Request shapes (unknown members are ignored, as AWS does for members it does not use)

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct CreateEmailIdentityInput {
    email_identity: Option<String>,
    tags: Option<Vec<Tag>>,
    configuration_set_name: Option<String>,
}

#[derive(Deserialize, Serialize)]
#[serde(rename_all = "PascalCase")]
struct Tag {
    key: String,
    value: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct ListEmailIdentitiesInput {
    filter: Option<HashMap<String, String>>,
    next_token: Option<String>,
    page_size: Option<i64>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct SendEmailInput {
    from_email_address: Option<String>,
    destination: Option<DestinationInput>,
    reply_to_addresses: Option<Vec<String>>,
    content: Option<EmailContentInput>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct DestinationInput {
    to_addresses: Option<Vec<String>>,
    cc_addresses: Option<Vec<String>>,
    bcc_addresses: Option<Vec<String>>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct EmailContentInput {
    simple: Option<SimpleInput>,
    raw: Option<RawInput>,
    template: Option<Value>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct SimpleInput {
    subject: Option<ContentInput>,
    body: Option<BodyInput>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct ContentInput {
    data: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct BodyInput {
    text: Option<ContentInput>,
    html: Option<ContentInput>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct RawInput {
    data: Option<String>,
}

// ---------------------------------------------------------------------------------------
// Identities

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum IdentityType {
    EmailAddress,
    Domain,
}

impl IdentityType {
    fn as_str(self) -> &'static str {
        match self {
            IdentityType::EmailAddress => "EMAIL_ADDRESS",
            IdentityType::Domain => "DOMAIN",
        }
    }

    fn from_db(s: &str) -> Self {
        if s == "DOMAIN" { IdentityType::Domain } else { IdentityType::EmailAddress }
    }
}

/// An identity name, validated, with the key it is stored under: domains compare
/// case-insensitively, an address's local part as written.
struct Identity {
    key: String,
    kind: IdentityType,
}

impl Identity {
    fn parse(name: &str) -> Result<Self, SesError> {
        let name = name.trim();
        if name.is_empty() {
            return Err(SesError::BadRequest("Email identity must not be empty.".into()));
        }
        if name.contains('@') {
            let (local, domain) = validate_addr_spec(name).map_err(SesError::BadRequest)?;
            Ok(Self { key: format!("{local}@{}", domain.to_ascii_lowercase()), kind: IdentityType::EmailAddress })
        } else {
            validate_domain(name).map_err(|why| SesError::BadRequest(format!("Invalid domain name {name}: {why}")))?;
            Ok(Self { key: name.trim_end_matches('.').to_ascii_lowercase(), kind: IdentityType::Domain })
        }
    }
}

struct IdentityRow {
    key: String,
    name: String,
    identity_type: IdentityType,
    configuration_set: Option<String>,
    tags: String,
    created_at: i64,
}

fn row_to_identity(row: &rusqlite::Row<'_>) -> rusqlite::Result<IdentityRow> {
    Ok(IdentityRow {
        key: row.get(0)?,
        name: row.get(1)?,
        identity_type: IdentityType::from_db(&row.get::<_, String>(2)?),
        configuration_set: row.get(3)?,
        tags: row.get(4)?,
        created_at: row.get(5)?,
    })
}

fn identity_row(conn: &mut rusqlite::Connection, key: &str) -> Result<Option<IdentityRow>, StorageError> {
    Ok(conn
        .query_row(
            "SELECT key, name, identity_type, configuration_set, tags, created_at FROM ses_identities WHERE key = ?1",
            params![key],
            row_to_identity,
        )
        .optional()?)
}

/// The members CreateEmailIdentity and GetEmailIdentity share.
fn identity_summary(row: &IdentityRow) -> Value {
    let dkim = match row.identity_type {
        // Easy DKIM for a domain: three CNAME tokens, derived from the domain so they stay
        // the same across calls, and signing already on (there is no DNS to wait for).
        IdentityType::Domain => {
            use sha2::Digest;
            let tokens: Vec<String> = (0..3)
                .map(|i| hex::encode(sha2::Sha256::digest(format!("{}#{i}", row.key)))[..32].to_string())
                .collect();
            json!({
                "SigningEnabled": true,
                "Status": "SUCCESS",
                "Tokens": tokens,
                "SigningAttributesOrigin": "AWS_SES",
                "CurrentSigningKeyLength": "RSA_2048_BIT",
                "NextSigningKeyLength": "RSA_2048_BIT",
                "LastKeyGenerationTimestamp": row.created_at,
            })
        }
        IdentityType::EmailAddress => json!({
            "SigningEnabled": false,
            "Status": "NOT_STARTED",
            "SigningAttributesOrigin": "AWS_SES",
        }),
    };
    json!({
        "IdentityType": row.identity_type.as_str(),
        // Verified locally as soon as it exists: nothing to click, no DNS to publish.
        "VerifiedForSendingStatus": true,
        "DkimAttributes": dkim,
    })
}

/// ListEmailIdentities' Filter: IDENTITY_NAME_CONTAINS, IDENTITY_TYPE, VERIFICATION_STATUS.
struct IdentityFilter {
    name_contains: Option<String>,
    identity_type: Option<String>,
    verification_status: Option<String>,
}

impl IdentityFilter {
    fn parse(filter: HashMap<String, String>) -> Result<Self, SesError> {
        let mut parsed = Self { name_contains: None, identity_type: None, verification_status: None };
        for (key, value) in filter {
            match key.as_str() {
                "IDENTITY_NAME_CONTAINS" => parsed.name_contains = Some(value.to_lowercase()),
                "IDENTITY_TYPE" => parsed.identity_type = Some(value),
                "VERIFICATION_STATUS" => parsed.verification_status = Some(value),
                other => {
                    return Err(SesError::BadRequest(format!(
                        "Invalid filter key {other}: expected IDENTITY_NAME_CONTAINS, IDENTITY_TYPE or VERIFICATION_STATUS."
                    )));
                }
            }
        }
        Ok(parsed)
    }

    fn matches(&self, row: &IdentityRow) -> bool {
        self.name_contains.as_ref().is_none_or(|s| row.name.to_lowercase().contains(s))
            && self.identity_type.as_ref().is_none_or(|t| t == row.identity_type.as_str())
            && self.verification_status.as_ref().is_none_or(|s| s == "SUCCESS")
    }
}

// ---------------------------------------------------------------------------------------
// Addresses

/// One address as SES takes it: `user@example.com` or `Display Name <user@example.com>`.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Mailbox {
    /// As given (display name included), for the outbox.
    display: String,
    /// The bare address.
    address: String,
}

impl Mailbox {
    /// Parses and validates an address; the error is SES's message for it (SES reports
    /// its address parser's complaint, e.g. "Missing final '@domain'").
    fn parse(input: &str) -> Result<Self, String> {
        let s = input.trim();
        if s.is_empty() {
            return Err(format!("Invalid email address {s}."));
        }
        let address = if let Some(open) = s.rfind('<') {
            let Some(inner) = s[open + 1..].strip_suffix('>') else {
                return Err("Missing '>'".into());
            };
            inner.trim()
        } else if s.contains('>') {
            return Err("Missing '<'".into());
        } else {
            s
        };
        validate_addr_spec(address)?;
        Ok(Self { display: s.to_string(), address: address.to_string() })
    }

    /// The identity keys that may authorise this sender: the address, its domain, and
    /// the domain's parents.
    fn identity_candidates(&self) -> Vec<String> {
        let Some((local, domain)) = self.address.rsplit_once('@') else {
            return vec![self.address.clone()];
        };
        let domain = domain.trim_end_matches('.').to_ascii_lowercase();
        let mut keys = vec![format!("{local}@{domain}")];
        let mut rest = domain.as_str();
        loop {
            keys.push(rest.to_string());
            match rest.split_once('.') {
                Some((_, parent)) if parent.contains('.') => rest = parent,
                _ => break,
            }
        }
        keys
    }
}

fn parse_list(addresses: Vec<String>) -> Result<Vec<Mailbox>, SesError> {
    addresses.iter().map(|a| Mailbox::parse(a).map_err(SesError::BadRequest)).collect()
}

/// Checks `local@domain` and returns its two halves. SES takes ASCII addresses only (a
/// non-ASCII domain goes as Punycode), and no quoted local parts with spaces in them.
fn validate_addr_spec(address: &str) -> Result<(&str, &str), String> {
    let Some((local, domain)) = address.rsplit_once('@') else {
        return Err("Missing final '@domain'".into());
    };
    if local.is_empty() {
        return Err("Missing local name".into());
    }
    if domain.is_empty() {
        return Err("Missing domain".into());
    }
    let quoted = local.len() >= 2 && local.starts_with('"') && local.ends_with('"');
    if !quoted && local.contains('@') {
        return Err("Illegal address".into());
    }
    if local.chars().any(|c| c.is_control() || c.is_whitespace()) {
        return Err("Local address contains control or whitespace".into());
    }
    if !local.is_ascii() || (!quoted && local.chars().any(|c| "()<>,;:\\\"[]".contains(c))) {
        return Err("Local address contains illegal character".into());
    }
    if !quoted {
        if local.starts_with('.') {
            return Err("Local address starts with dot".into());
        }
        if local.ends_with('.') {
            return Err("Local address ends with dot".into());
        }
        if local.contains("..") {
            return Err("Local address contains dot-dot".into());
        }
    }
    if domain.chars().any(|c| c.is_control() || c.is_whitespace()) {
        return Err("Domain contains control or whitespace".into());
    }
    validate_domain(domain)?;
    Ok((local, domain))
}

fn validate_domain(domain: &str) -> Result<(), String> {
    let domain = domain.strip_suffix('.').unwrap_or(domain);
    if domain.is_empty() {
        return Err("Missing domain".into());
    }
    if domain.chars().any(|c| c.is_control() || c.is_whitespace()) {
        return Err("Domain contains control or whitespace".into());
    }
    if !domain.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '.') {
        return Err("Domain contains illegal character".into());
    }
    if domain.starts_with('.') {
        return Err("Domain starts with dot".into());
    }
    if domain.contains("..") {
        return Err("Domain contains dot-dot".into());
    }
    if domain.len() > 253 || domain.split('.').any(|label| label.len() > 63) {
        return Err("Domain name too long".into());
    }
    if domain.split('.').any(|label| label.starts_with('-') || label.ends_with('-')) {
        return Err("Domain label starts or ends with a hyphen".into());
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------
// Sending

struct Recipients {
    to: Vec<Mailbox>,
    cc: Vec<Mailbox>,
    bcc: Vec<Mailbox>,
}

struct OutgoingMail {
    kind: &'static str,
    from: Mailbox,
    recipients: Recipients,
    reply_to: Vec<Mailbox>,
    subject: Option<String>,
    text: Option<String>,
    html: Option<String>,
    raw: Option<Vec<u8>>,
}

/// A raw MIME message: its From, To, Cc, Bcc and Subject headers, and its first text and
/// HTML bodies, read with `mail-parser` (folded headers, RFC 2047 encoded words, address
/// groups and multipart bodies are more than a hand-written reader should take on).
/// FromEmailAddress and Destination, when given, take precedence over the headers, as
/// they do on AWS.
fn raw_mail(
    bytes: Vec<u8>,
    given_from: Option<Mailbox>,
    destination: Option<Recipients>,
    reply_to: Vec<Mailbox>,
) -> Result<OutgoingMail, SesError> {
    if bytes.len() > MAX_RAW_MESSAGE {
        return Err(SesError::MessageRejected(format!("Message length is more than {MAX_RAW_MESSAGE} bytes long.")));
    }
    let parsed = mail_parser::MessageParser::default().parse(&bytes);
    let Some(message) = parsed.filter(|m| m.parts.first().is_some_and(|root| !root.headers.is_empty())) else {
        return Err(SesError::BadRequest(
            "The raw message is not a MIME message: it must have header fields, a blank line and a body.".into(),
        ));
    };
    let header_list = |address: Option<&mail_parser::Address<'_>>| -> Result<Vec<Mailbox>, SesError> {
        let Some(address) = address else { return Ok(Vec::new()) };
        address
            .iter()
            .map(|addr| {
                let bare = addr.address.as_deref().unwrap_or("");
                validate_addr_spec(bare).map_err(SesError::BadRequest)?;
                let display = match addr.name.as_deref() {
                    Some(name) if !name.is_empty() => format!("{name} <{bare}>"),
                    _ => bare.to_string(),
                };
                Ok(Mailbox { display, address: bare.to_string() })
            })
            .collect()
    };
    let from = match given_from {
        Some(from) => from,
        None => header_list(message.from())?
            .into_iter()
            .next()
            .ok_or_else(|| SesError::BadRequest("Missing required header 'From'.".into()))?,
    };
    let recipients = match destination {
        Some(recipients) => recipients,
        None => Recipients {
            to: header_list(message.to())?,
            cc: header_list(message.cc())?,
            bcc: header_list(message.bcc())?,
        },
    };
    let reply_to = if reply_to.is_empty() { header_list(message.reply_to())? } else { reply_to };
    let body_of = |ids: &[u32], html: bool| {
        ids.iter().filter_map(|&id| message.parts.get(id as usize)).find_map(|part| match &part.body {
            mail_parser::PartType::Html(s) if html => Some(s.to_string()),
            mail_parser::PartType::Text(s) if !html => Some(s.to_string()),
            _ => None,
        })
    };
    let text = body_of(&message.text_body, false);
    let html = body_of(&message.html_body, true);
    let subject = message.subject().map(str::to_string);
    drop(message);
    Ok(OutgoingMail { kind: "raw", from, recipients, reply_to, subject, text, html, raw: Some(bytes) })
}

fn address_json(list: &[Mailbox]) -> String {
    serde_json::to_string(&list.iter().map(|m| m.display.as_str()).collect::<Vec<_>>()).unwrap_or_else(|_| "[]".into())
}

fn insert_outbox(conn: &mut rusqlite::Connection, id: &str, mail: &OutgoingMail) -> Result<(), StorageError> {
    let timestamp = time::OffsetDateTime::now_utc()
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_else(|_| String::new());
    conn.execute(
        "INSERT INTO ses_outbox (id, timestamp, kind, from_address, to_addresses, cc_addresses, bcc_addresses,
                                 reply_to_addresses, subject, text_body, html_body, raw)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)",
        params![
            id,
            timestamp,
            mail.kind,
            mail.from.display,
            address_json(&mail.recipients.to),
            address_json(&mail.recipients.cc),
            address_json(&mail.recipients.bcc),
            address_json(&mail.reply_to),
            mail.subject,
            mail.text,
            mail.html,
            mail.raw,
        ],
    )?;
    Ok(())
}

/// One message of the outbox as `GET /_wildrydes/outbox` shows it.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct OutboxMessage {
    message_id: String,
    timestamp: String,
    /// `simple` or `raw`.
    kind: String,
    from: String,
    to: Vec<String>,
    cc: Vec<String>,
    bcc: Vec<String>,
    reply_to: Vec<String>,
    subject: Option<String>,
    text: Option<String>,
    html: Option<String>,
    /// The raw MIME message as text (SES requires 7-bit content, so it is ASCII in
    /// practice; any other byte shows as U+FFFD).
    raw: Option<String>,
}

fn read_outbox(conn: &mut rusqlite::Connection) -> Result<Vec<OutboxMessage>, StorageError> {
    let mut stmt = conn.prepare(
        "SELECT id, timestamp, kind, from_address, to_addresses, cc_addresses, bcc_addresses, reply_to_addresses,
                subject, text_body, html_body, raw
         FROM ses_outbox ORDER BY seq DESC",
    )?;
    let list = |s: String| serde_json::from_str::<Vec<String>>(&s).unwrap_or_default();
    let rows = stmt
        .query_map([], |row| {
            Ok(OutboxMessage {
                message_id: row.get(0)?,
                timestamp: row.get(1)?,
                kind: row.get(2)?,
                from: row.get(3)?,
                to: list(row.get(4)?),
                cc: list(row.get(5)?),
                bcc: list(row.get(6)?),
                reply_to: list(row.get(7)?),
                subject: row.get(8)?,
                text: row.get(9)?,
                html: row.get(10)?,
                raw: row.get::<_, Option<Vec<u8>>>(11)?.map(|b| String::from_utf8_lossy(&b).into_owned()),
            })
        })?
        .collect::<Result<Vec<_>, _>>()?;
    Ok(rows)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_name_addresses_parse_to_the_bare_address() {
        let m = Mailbox::parse("Wild Rydes <no-reply@wildrydes.com>").unwrap();
        assert_eq!(m.address, "no-reply@wildrydes.com");
        assert_eq!(m.display, "Wild Rydes <no-reply@wildrydes.com>");
        assert_eq!(Mailbox::parse(" rider@example.com ").unwrap().address, "rider@example.com");
    }

    #[test]
    fn malformed_addresses_get_the_parsers_complaint() {
        for (input, message) in [
            ("rider", "Missing final '@domain'"),
            ("@example.com", "Missing local name"),
            ("rider@", "Missing domain"),
            ("a@b.comc@d.com", "Illegal address"),
            ("ri der@example.com", "Local address contains control or whitespace"),
            ("rider@exa mple.com", "Domain contains control or whitespace"),
            ("rider@exa_mple.com", "Domain contains illegal character"),
            ("rider@example..com", "Domain contains dot-dot"),
            ("Rider <rider@example.com", "Missing '>'"),
            ("", "Invalid email address ."),
        ] {
            assert_eq!(Mailbox::parse(input).unwrap_err(), message, "{input:?}");
        }
    }

    #[test]
    fn a_sender_is_authorised_by_its_address_its_domain_or_a_parent_domain() {
        let m = Mailbox::parse("Ops <ops@Mail.Example.COM>").unwrap();
        assert_eq!(m.identity_candidates(), vec!["ops@mail.example.com", "mail.example.com", "example.com"]);
    }

    #[test]
    fn identities_compare_domains_case_insensitively() {
        assert_eq!(Identity::parse("Rider@Example.COM").unwrap().key, "Rider@example.com");
        assert_eq!(Identity::parse("Example.COM").unwrap().key, "example.com");
        assert_eq!(Identity::parse("example.com").unwrap().kind, IdentityType::Domain);
        assert!(Identity::parse("exa mple.com").is_err());
        assert!(Identity::parse("-bad.example.com").is_err());
    }

    #[test]
    fn raw_messages_give_up_their_headers_and_bodies() {
        let raw = b"From: =?UTF-8?B?V2lsZCBSeWRlcw==?= <no-reply@wildrydes.com>\r\n\
To: a@example.com,\r\n b@example.com\r\nCc: Group: c@example.com;\r\nSubject: =?UTF-8?Q?Caf=C3=A9?=\r\n\
MIME-Version: 1.0\r\nContent-Type: multipart/alternative; boundary=\"b1\"\r\n\r\n\
--b1\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nplain body\r\n\
--b1\r\nContent-Type: text/html; charset=utf-8\r\n\r\n<p>html body</p>\r\n--b1--\r\n";
        let mail = raw_mail(raw.to_vec(), None, None, Vec::new()).unwrap();
        assert_eq!(mail.from.address, "no-reply@wildrydes.com");
        assert_eq!(mail.from.display, "Wild Rydes <no-reply@wildrydes.com>");
        let to: Vec<_> = mail.recipients.to.iter().map(|m| m.address.as_str()).collect();
        assert_eq!(to, ["a@example.com", "b@example.com"]);
        assert_eq!(mail.recipients.cc[0].address, "c@example.com");
        assert_eq!(mail.subject.as_deref(), Some("Café"));
        assert_eq!(mail.text.as_deref().map(str::trim), Some("plain body"));
        assert_eq!(mail.html.as_deref().map(str::trim), Some("<p>html body</p>"));
    }

    #[test]
    fn a_raw_message_without_headers_is_refused() {
        assert!(matches!(raw_mail(b"just some text".to_vec(), None, None, Vec::new()), Err(SesError::BadRequest(_))));
        assert!(matches!(raw_mail(Vec::new(), None, None, Vec::new()), Err(SesError::BadRequest(_))));
    }
}
