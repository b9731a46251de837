//! Intrinsic functions (`States.Format(...)` and friends): a small recursive-descent parser
//! for their argument syntax (quoted strings with `\` escapes, numbers, booleans, null,
//! paths, nested calls) and their evaluation with AWS's rules.

use base64::Engine;
use serde_json::{Map, Number, Value};

use super::path::{PathError, Scope, query_scope};
use super::{Failure, MAX_PAYLOAD_BYTES};

/// A parsed argument.
#[derive(Debug, Clone, PartialEq)]
pub enum Arg {
    /// A string literal, escapes still in place (`States.Format` treats `\{` specially).
    Str(String),
    Num(Number),
    Bool(bool),
    Null,
    Path(String),
    Call(Call),
}

#[derive(Debug, Clone, PartialEq)]
pub struct Call {
    pub name: String,
    pub args: Vec<Arg>,
}

const MAX_NESTING: usize = 32;

/// Parses `States.Name(arg, ...)`.
pub fn parse(text: &str) -> Result<Call, String> {
    let mut p = Parser { s: text.as_bytes(), src: text, i: 0 };
    let call = p.call(0)?;
    p.ws();
    if p.i != p.s.len() {
        return Err(format!("unexpected text after the function call at position {}", p.i));
    }
    Ok(call)
}

struct Parser<'a> {
    s: &'a [u8],
    src: &'a str,
    i: usize,
}

impl Parser<'_> {
    fn ws(&mut self) {
        while self.i < self.s.len() && self.s[self.i].is_ascii_whitespace() {
            self.i += 1;
        }
    }

    fn call(&mut self, depth: usize) -> Result<Call, String> {
        if depth > MAX_NESTING {
            return Err("intrinsic functions nest too deeply".into());
        }
        self.ws();
        let start = self.i;
        while self.i < self.s.len() && (self.s[self.i].is_ascii_alphanumeric() || self.s[self.i] == b'.') {
            self.i += 1;
        }
        let name = self.src[start..self.i].to_string();
        if !name.starts_with("States.") {
            return Err(format!("'{name}' is not an intrinsic function"));
        }
        self.ws();
        if self.s.get(self.i) != Some(&b'(') {
            return Err(format!("expected '(' after {name}"));
        }
        self.i += 1;
        let mut args = Vec::new();
        self.ws();
        if self.s.get(self.i) == Some(&b')') {
            self.i += 1;
            return Ok(Call { name, args });
        }
        loop {
            args.push(self.arg(depth)?);
            self.ws();
            match self.s.get(self.i) {
                Some(b',') => self.i += 1,
                Some(b')') => {
                    self.i += 1;
                    return Ok(Call { name, args });
                }
                _ => return Err(format!("expected ',' or ')' in the arguments of {name}")),
            }
        }
    }

    fn arg(&mut self, depth: usize) -> Result<Arg, String> {
        self.ws();
        let rest = &self.src[self.i..];
        match self.s.get(self.i) {
            Some(b'\'') => {
                self.i += 1;
                let mut out = String::new();
                let mut chars = self.src[self.i..].char_indices();
                while let Some((off, c)) = chars.next() {
                    match c {
                        '\\' => {
                            let Some((_, n)) = chars.next() else { break };
                            if n == '\'' {
                                out.push('\'');
                            } else {
                                out.push('\\');
                                out.push(n);
                            }
                        }
                        '\'' => {
                            self.i += off + 1;
                            return Ok(Arg::Str(out));
                        }
                        c => out.push(c),
                    }
                }
                Err("unterminated string literal".into())
            }
            Some(b'$') => {
                // A path runs to the next ',' or ')' outside brackets, parentheses and quotes.
                let mut depth_b = 0i32;
                let mut quote: Option<char> = None;
                let mut end = rest.len();
                for (off, c) in rest.char_indices() {
                    match quote {
                        Some(q) if c == q => quote = None,
                        Some(_) => {}
                        None => match c {
                            '\'' | '"' => quote = Some(c),
                            '[' | '(' => depth_b += 1,
                            ']' => depth_b -= 1,
                            ')' if depth_b == 0 => {
                                end = off;
                                break;
                            }
                            ')' => depth_b -= 1,
                            ',' if depth_b == 0 => {
                                end = off;
                                break;
                            }
                            _ => {}
                        },
                    }
                }
                self.i += end;
                Ok(Arg::Path(rest[..end].trim().to_string()))
            }
            Some(b'S') if rest.starts_with("States.") => Ok(Arg::Call(self.call(depth + 1)?)),
            _ => {
                let end = rest.find([',', ')']).unwrap_or(rest.len());
                let tok = rest[..end].trim();
                self.i += end;
                match tok {
                    "true" => Ok(Arg::Bool(true)),
                    "false" => Ok(Arg::Bool(false)),
                    "null" => Ok(Arg::Null),
                    _ => serde_json::from_str::<Number>(tok)
                        .map(Arg::Num)
                        .map_err(|_| format!("'{tok}' is not a valid intrinsic function argument")),
                }
            }
        }
    }
}

/// Parses and evaluates an intrinsic function call against a scope.
pub fn evaluate(text: &str, scope: &Scope<'_>) -> Result<Value, Failure> {
    let call = parse(text).map_err(|e| Failure::intrinsic(format!("Invalid intrinsic function call '{text}': {e}")))?;
    eval_call(&call, scope)
}

/// Unescapes `\\`, `\{`, `\}` (and keeps unknown escapes as written).
fn unescape(s: &str) -> String {
    let mut out = String::new();
    let mut it = s.chars();
    while let Some(c) = it.next() {
        if c == '\\' {
            match it.next() {
                Some(n @ ('\\' | '{' | '}' | '\'')) => out.push(n),
                Some(n) => {
                    out.push('\\');
                    out.push(n);
                }
                None => out.push('\\'),
            }
        } else {
            out.push(c);
        }
    }
    out
}

fn eval_arg(arg: &Arg, scope: &Scope<'_>) -> Result<Value, Failure> {
    match arg {
        Arg::Str(s) => Ok(Value::String(unescape(s))),
        Arg::Num(n) => Ok(Value::Number(n.clone())),
        Arg::Bool(b) => Ok(Value::Bool(*b)),
        Arg::Null => Ok(Value::Null),
        Arg::Path(p) => query_scope(scope, p).map_err(|e| match e {
            PathError::UnknownVariable(v) => Failure::runtime(format!("The variable '{v}' is not defined")),
            PathError::TooCostly(why) => Failure::runtime(why),
            _ => Failure::runtime(format!(
                "The JSONPath '{p}' could not be found in the input '{}'",
                super::to_json_text(if p.starts_with("$$") { scope.context } else { scope.input })
            )),
        }),
        Arg::Call(c) => eval_call(c, scope),
    }
}

fn int(n: i64) -> Value {
    Value::Number(Number::from(n))
}

fn as_f64(v: &Value) -> Option<f64> {
    v.as_f64()
}

/// Java's `Math.round`: halves round towards positive infinity.
fn java_round(x: f64) -> i64 {
    (x + 0.5).floor() as i64
}

fn as_int(v: &Value, fname: &str) -> Result<i64, Failure> {
    let f = as_f64(v).ok_or_else(|| {
        Failure::intrinsic(format!("The {fname} function expects numeric arguments, got {}", super::to_json_text(v)))
    })?;
    if !f.is_finite() || f.abs() > 9.0e15 {
        return Err(Failure::intrinsic(format!("The {fname} argument {f} is out of range")));
    }
    Ok(java_round(f))
}

fn expect_args(name: &str, args: &[Value], min: usize, max: usize) -> Result<(), Failure> {
    if args.len() < min || args.len() > max {
        let want = if min == max { format!("{min}") } else { format!("{min} to {max}") };
        return Err(Failure::intrinsic(format!(
            "Invalid number of arguments for {name}: expected {want}, got {}",
            args.len()
        )));
    }
    Ok(())
}

fn as_str<'a>(v: &'a Value, name: &str) -> Result<&'a str, Failure> {
    v.as_str().ok_or_else(|| {
        Failure::intrinsic(format!("The {name} function expects a string argument, got {}", super::to_json_text(v)))
    })
}

fn as_arr<'a>(v: &'a Value, name: &str) -> Result<&'a Vec<Value>, Failure> {
    v.as_array().ok_or_else(|| {
        Failure::intrinsic(format!("The {name} function expects an array argument, got {}", super::to_json_text(v)))
    })
}

/// Renders a value the way AWS's Java runtime prints a format argument.
fn java_text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Null => "null".into(),
        Value::Array(a) => format!("[{}]", a.iter().map(java_text).collect::<Vec<_>>().join(", ")),
        Value::Object(o) => {
            format!("{{{}}}", o.iter().map(|(k, v)| format!("{k}={}", java_text(v))).collect::<Vec<_>>().join(", "))
        }
        other => other.to_string(),
    }
}

/// A deterministic generator (splitmix64) seeded from the arguments and the scope's seed,
/// so that replaying an execution draws the same numbers.
pub fn splitmix(seed: u64) -> u64 {
    let mut z = seed.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

fn next_random(scope: &Scope<'_>) -> u64 {
    let s = scope.seed.get();
    let r = splitmix(s);
    scope.seed.set(s.wrapping_add(1));
    r
}

/// Calls one function and refuses a result over AWS's payload quota. Without the check,
/// nesting alone makes a result grow exponentially (each JsonToString doubles the
/// backslashes of the last: the 32 levels the parser allows make gigabytes).
fn eval_call(call: &Call, scope: &Scope<'_>) -> Result<Value, Failure> {
    let result = call_function(call, scope)?;
    if json_size_exceeds(&result, MAX_PAYLOAD_BYTES) {
        return Err(Failure::new(
            "States.DataLimitExceeded",
            format!("The result of {} exceeds the payload limit of {MAX_PAYLOAD_BYTES} bytes", call.name),
        ));
    }
    Ok(result)
}

/// Whether `value` as JSON text is longer than `limit` bytes; stops writing at the limit.
fn json_size_exceeds(value: &Value, limit: usize) -> bool {
    struct Budget(usize);
    impl std::io::Write for Budget {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0 = self.0.checked_sub(buf.len()).ok_or(std::io::ErrorKind::WriteZero)?;
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    serde_json::to_writer(Budget(limit), value).is_err()
}

fn call_function(call: &Call, scope: &Scope<'_>) -> Result<Value, Failure> {
    let name = call.name.as_str();
    if name == "States.Format" {
        return format(call, scope);
    }
    let args = call.args.iter().map(|a| eval_arg(a, scope)).collect::<Result<Vec<_>, _>>()?;
    match name {
        "States.StringToJson" => {
            expect_args(name, &args, 1, 1)?;
            let s = as_str(&args[0], name)?;
            if s.trim().is_empty() {
                return Ok(Value::Null);
            }
            serde_json::from_str(s)
                .map_err(|e| Failure::intrinsic(format!("The StringToJson argument is not valid JSON: {e}")))
        }
        "States.JsonToString" => {
            expect_args(name, &args, 1, 1)?;
            Ok(Value::String(super::to_json_text(&args[0])))
        }
        "States.Array" => Ok(Value::Array(args)),
        "States.ArrayPartition" => {
            expect_args(name, &args, 2, 2)?;
            let arr = as_arr(&args[0], name)?;
            let size = as_int(&args[1], name)?;
            if size <= 0 {
                return Err(Failure::intrinsic("The chunk size for ArrayPartition must be a positive integer"));
            }
            Ok(Value::Array(arr.chunks(size as usize).map(|c| Value::Array(c.to_vec())).collect()))
        }
        "States.ArrayContains" => {
            expect_args(name, &args, 2, 2)?;
            let arr = as_arr(&args[0], name)?;
            Ok(Value::Bool(arr.iter().any(|v| json_eq(v, &args[1]))))
        }
        "States.ArrayRange" => {
            expect_args(name, &args, 3, 3)?;
            let (start, end, step) = (as_int(&args[0], name)?, as_int(&args[1], name)?, as_int(&args[2], name)?);
            if step == 0 {
                return Err(Failure::intrinsic("The step for ArrayRange must not be 0"));
            }
            let mut out = Vec::new();
            let mut x = start;
            while (step > 0 && x <= end) || (step < 0 && x >= end) {
                out.push(int(x));
                if out.len() > 1000 {
                    return Err(Failure::intrinsic("ArrayRange can produce at most 1000 items"));
                }
                x += step;
            }
            Ok(Value::Array(out))
        }
        "States.ArrayGetItem" => {
            expect_args(name, &args, 2, 2)?;
            let arr = as_arr(&args[0], name)?;
            let idx = as_int(&args[1], name)?;
            usize::try_from(idx).ok().and_then(|i| arr.get(i)).cloned().ok_or_else(|| {
                Failure::intrinsic(format!("The index {idx} is out of bounds for an array of length {}", arr.len()))
            })
        }
        "States.ArrayLength" => {
            expect_args(name, &args, 1, 1)?;
            Ok(int(as_arr(&args[0], name)?.len() as i64))
        }
        "States.ArrayUnique" => {
            expect_args(name, &args, 1, 1)?;
            let mut out: Vec<Value> = Vec::new();
            for v in as_arr(&args[0], name)? {
                if !out.iter().any(|o| json_eq(o, v)) {
                    out.push(v.clone());
                }
            }
            Ok(Value::Array(out))
        }
        "States.Base64Encode" => {
            expect_args(name, &args, 1, 1)?;
            let s = as_str(&args[0], name)?;
            if s.len() > 10_000 {
                return Err(Failure::intrinsic("The Base64Encode input exceeds 10000 characters"));
            }
            Ok(Value::String(base64::engine::general_purpose::STANDARD.encode(s)))
        }
        "States.Base64Decode" => {
            expect_args(name, &args, 1, 1)?;
            let s = as_str(&args[0], name)?;
            if s.len() > 10_000 {
                return Err(Failure::intrinsic("The Base64Decode input exceeds 10000 characters"));
            }
            let bytes = base64::engine::general_purpose::STANDARD
                .decode(s)
                .map_err(|e| Failure::intrinsic(format!("The Base64Decode input is not valid base64: {e}")))?;
            String::from_utf8(bytes)
                .map(Value::String)
                .map_err(|_| Failure::intrinsic("The Base64Decode result is not UTF-8 text"))
        }
        "States.Hash" => {
            expect_args(name, &args, 2, 2)?;
            let data = match &args[0] {
                Value::String(s) => s.clone(),
                other => super::to_json_text(other),
            };
            if data.len() > 10_000 {
                return Err(Failure::intrinsic("The Hash input exceeds 10000 characters"));
            }
            let algo = as_str(&args[1], name)?;
            use sha2::Digest;
            let digest = match algo {
                "MD5" => hex::encode(md5::Md5::digest(data.as_bytes())),
                "SHA-1" => hex::encode(sha1::Sha1::digest(data.as_bytes())),
                "SHA-256" => hex::encode(sha2::Sha256::digest(data.as_bytes())),
                "SHA-384" => hex::encode(sha2::Sha384::digest(data.as_bytes())),
                "SHA-512" => hex::encode(sha2::Sha512::digest(data.as_bytes())),
                other => {
                    return Err(Failure::intrinsic(format!(
                        "The hash algorithm '{other}' is not supported; use MD5, SHA-1, SHA-256, SHA-384 or SHA-512"
                    )));
                }
            };
            Ok(Value::String(digest))
        }
        "States.JsonMerge" => {
            expect_args(name, &args, 3, 3)?;
            let (Value::Object(a), Value::Object(b)) = (&args[0], &args[1]) else {
                return Err(Failure::intrinsic("The JsonMerge function expects two JSON objects"));
            };
            if args[2] != Value::Bool(false) {
                return Err(Failure::intrinsic("The JsonMerge function supports only a shallow merge (false)"));
            }
            let mut out: Map<String, Value> = a.clone();
            for (k, v) in b {
                out.insert(k.clone(), v.clone());
            }
            Ok(Value::Object(out))
        }
        "States.MathRandom" => {
            expect_args(name, &args, 2, 3)?;
            let (start, end) = (as_int(&args[0], name)?, as_int(&args[1], name)?);
            if end <= start {
                return Err(Failure::intrinsic("The MathRandom end must be greater than its start"));
            }
            let r = match args.get(2) {
                Some(seed) => splitmix(as_int(seed, name)? as u64),
                None => next_random(scope),
            };
            let span = (end - start) as u64;
            Ok(int(start + (r % span) as i64))
        }
        "States.MathAdd" => {
            expect_args(name, &args, 2, 2)?;
            let (a, b) = (as_int(&args[0], name)?, as_int(&args[1], name)?);
            Ok(int(a + b))
        }
        "States.StringSplit" => {
            expect_args(name, &args, 2, 2)?;
            let s = as_str(&args[0], name)?;
            let delims: Vec<char> = as_str(&args[1], name)?.chars().collect();
            Ok(Value::Array(
                s.split(|c| delims.contains(&c))
                    .filter(|p| !p.is_empty())
                    .map(|p| Value::String(p.to_string()))
                    .collect(),
            ))
        }
        "States.UUID" => {
            expect_args(name, &args, 0, 0)?;
            let hi = next_random(scope);
            let lo = next_random(scope);
            let mut bytes = [0u8; 16];
            bytes[..8].copy_from_slice(&hi.to_be_bytes());
            bytes[8..].copy_from_slice(&lo.to_be_bytes());
            Ok(Value::String(uuid::Builder::from_random_bytes(bytes).into_uuid().to_string()))
        }
        other => Err(Failure::intrinsic(format!("The intrinsic function '{other}' is not supported"))),
    }
}

fn format(call: &Call, scope: &Scope<'_>) -> Result<Value, Failure> {
    // The template is usually a literal (escapes intact); a path or call yielding a string
    // is accepted too, its text taken as is.
    let template = match call.args.first() {
        Some(Arg::Str(t)) => t.clone(),
        Some(other) => match eval_arg(other, scope)? {
            Value::String(s) => s.replace('\\', "\\\\"),
            v => {
                return Err(Failure::intrinsic(format!(
                    "The States.Format template must be a string, got {}",
                    super::to_json_text(&v)
                )));
            }
        },
        None => return Err(Failure::intrinsic("States.Format needs a template argument")),
    };
    let values = call.args[1..].iter().map(|a| eval_arg(a, scope)).collect::<Result<Vec<_>, _>>()?;
    let mut out = String::new();
    let mut next = 0;
    let mut chars = template.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\\' => match chars.next() {
                Some(n) => out.push(n),
                None => out.push('\\'),
            },
            '{' if chars.peek() == Some(&'}') => {
                chars.next();
                let v = values.get(next).ok_or_else(|| {
                    Failure::intrinsic(
                        "The number of arguments does not match the number of placeholders in States.Format",
                    )
                })?;
                out.push_str(&java_text(v));
                next += 1;
            }
            c => out.push(c),
        }
    }
    if next != values.len() {
        return Err(Failure::intrinsic(
            "The number of arguments does not match the number of placeholders in States.Format",
        ));
    }
    Ok(Value::String(out))
}

/// JSON equality with numbers compared by value (`1` equals `1.0`).
pub fn json_eq(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => x.as_f64() == y.as_f64(),
        (Value::Array(x), Value::Array(y)) => x.len() == y.len() && x.iter().zip(y).all(|(p, q)| json_eq(p, q)),
        (Value::Object(x), Value::Object(y)) => {
            x.len() == y.len() && x.iter().all(|(k, v)| y.get(k).is_some_and(|w| json_eq(v, w)))
        }
        _ => a == b,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    use std::cell::Cell;

    fn run(expr: &str, input: Value) -> Result<Value, Failure> {
        let ctx = json!({"Execution": {"Name": "exec-1"}});
        let vars = Map::new();
        let seed = Cell::new(7);
        evaluate(expr, &Scope { input: &input, context: &ctx, variables: &vars, seed: &seed })
    }

    #[test]
    fn nested_json_to_string_stops_at_the_payload_limit_instead_of_growing_forever() {
        // Each level doubles the backslashes: 24 levels would be over 100 MB.
        let expr = format!("{}$.s{}", "States.JsonToString(".repeat(24), ")".repeat(24));
        let failure = run(&expr, json!({"s": "\"quoted\""})).expect_err("refused");
        assert_eq!(failure.error, "States.DataLimitExceeded");
        assert!(failure.cause.is_some_and(|c| c.contains("States.JsonToString") && c.contains("262144")));
        // A few levels are fine.
        assert_eq!(
            run("States.JsonToString(States.JsonToString($.s))", json!({"s": "a"})).ok(),
            Some(json!("\"\\\"a\\\"\""))
        );
    }

    #[test]
    fn parser_handles_nesting_escapes_and_literals() {
        let call = parse("States.Format('a \\'b\\' {}', States.Array(1, -2.5, true, null, $.x[0]))").ok();
        let args = call.map(|c| c.args.len());
        assert_eq!(args, Some(2));
        assert!(parse("States.Array(1,").is_err());
        assert!(parse("Foo(1)").is_err());
    }

    #[test]
    fn format_renders_strings_raw_and_objects_java_style() {
        assert_eq!(
            run("States.Format('x={} y={}', $.a, $.b)", json!({"a": "s", "b": {"k": [1]}})).ok(),
            Some(json!("x=s y={k=[1]}"))
        );
        assert_eq!(run("States.Format('\\{\\} {}', $$.Execution.Name)", json!({})).ok(), Some(json!("{} exec-1")));
        assert_eq!(
            run("States.Format('{} {}', 1)", json!({})).err().map(|f| f.error),
            Some("States.IntrinsicFailure".into())
        );
    }

    #[test]
    fn array_functions_follow_aws() {
        assert_eq!(run("States.ArrayPartition(States.Array(1,2,3), 2)", json!({})).ok(), Some(json!([[1, 2], [3]])));
        assert_eq!(run("States.ArrayRange(1, 9, 2)", json!({})).ok(), Some(json!([1, 3, 5, 7, 9])));
        assert_eq!(run("States.ArrayGetItem($.a, 1)", json!({"a": [4, 5]})).ok(), Some(json!(5)));
        assert_eq!(
            run("States.ArrayUnique($.a)", json!({"a": [1, 1, "x", "x", null]})).ok(),
            Some(json!([1, "x", null]))
        );
        assert_eq!(run("States.ArrayContains($.a, 1)", json!({"a": [[1], 1.0]})).ok(), Some(json!(true)));
        assert_eq!(run("States.ArrayLength($.a)", json!({"a": [1, 2]})).ok(), Some(json!(2)));
    }

    #[test]
    fn math_add_rounds_half_up_like_java() {
        assert_eq!(run("States.MathAdd($.a, $.b)", json!({"a": -1.5, "b": 0})).ok(), Some(json!(-1)));
        assert_eq!(run("States.MathAdd($.a, $.b)", json!({"a": 1.49, "b": 1.5})).ok(), Some(json!(3)));
    }

    #[test]
    fn math_random_stays_in_range_and_seeds_repeat() {
        for _ in 0..20 {
            let v = run("States.MathRandom(5, 10)", json!({})).ok().and_then(|v| v.as_i64()).unwrap_or(-1);
            assert!((5..10).contains(&v));
        }
        assert_eq!(
            run("States.MathRandom(0, 1000, 3)", json!({})).ok(),
            run("States.MathRandom(0, 1000, 3)", json!({})).ok()
        );
    }

    #[test]
    fn strings_hashes_and_encodings() {
        assert_eq!(run("States.StringSplit($.s, ',')", json!({"s": ",a,,b,"})).ok(), Some(json!(["a", "b"])));
        assert_eq!(run("States.Base64Encode('Data to encode')", json!({})).ok(), Some(json!("RGF0YSB0byBlbmNvZGU=")));
        assert_eq!(run("States.Base64Decode('RGF0YSB0byBlbmNvZGU=')", json!({})).ok(), Some(json!("Data to encode")));
        assert_eq!(
            run("States.Hash('input data', 'SHA-1')", json!({})).ok(),
            Some(json!("aaff4a450a104cd177d28d18d74485e8cae074b7"))
        );
        assert_eq!(run("States.StringToJson($.s)", json!({"s": "{\"a\": [1]}"})).ok(), Some(json!({"a": [1]})));
        assert_eq!(run("States.JsonToString($.v)", json!({"v": {"a": [1]}})).ok(), Some(json!("{\"a\":[1]}")));
        assert_eq!(
            run("States.JsonMerge($.a, $.b, false)", json!({"a": {"x": 1, "y": 1}, "b": {"y": 2}})).ok(),
            Some(json!({"x": 1, "y": 2}))
        );
        let uuid = run("States.UUID()", json!({})).ok();
        assert_eq!(uuid.as_ref().and_then(|u| u.as_str()).map(|s| s.len()), Some(36));
    }
}
