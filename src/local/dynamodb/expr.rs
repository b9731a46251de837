//! The expression languages of DynamoDB, parsed by hand: condition and filter
//! expressions, key conditions (conditions restricted later by the query), update
//! expressions and projections. Placeholders (`#name`, `:value`) are resolved while
//! parsing, and what the request defined but never used is reported afterwards.
//!
//! Hostile input cannot hurt the parser: expressions are limited to 4 KB (AWS's limit),
//! nesting to [`MAX_DEPTH`], and the parser is a recursive descent whose recursion is
//! bounded by that depth. Errors carry AWS's messages: syntax errors first (with the
//! offending token and its neighbour), then the first semantic error found.

use std::collections::{HashMap, HashSet};

use super::reserved::is_reserved;
use super::value::AttrValue;
use crate::local::protocol::ApiError;

/// AWS refuses expressions longer than 4 KB.
pub const MAX_EXPRESSION_LEN: usize = 4096;
/// Parentheses, NOT and function calls nest at most this deep.
pub const MAX_DEPTH: usize = 64;
/// Document paths have at most 32 levels.
const MAX_PATH_DEPTH: usize = 32;
/// AWS allows at most 100 operands in an IN list.
const MAX_IN_OPERANDS: usize = 100;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExprKind {
    Condition,
    Filter,
    KeyCondition,
    Update,
    Projection,
}

impl ExprKind {
    pub fn name(self) -> &'static str {
        match self {
            ExprKind::Condition => "ConditionExpression",
            ExprKind::Filter => "FilterExpression",
            ExprKind::KeyCondition => "KeyConditionExpression",
            ExprKind::Update => "UpdateExpression",
            ExprKind::Projection => "ProjectionExpression",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub enum PathElem {
    Attr(String),
    Index(usize),
}

pub type Path = Vec<PathElem>;

/// How AWS prints a path in messages: `[a, b, [2]]`.
pub fn path_str(path: &Path) -> String {
    let parts: Vec<String> = path
        .iter()
        .map(|p| match p {
            PathElem::Attr(a) => a.clone(),
            PathElem::Index(i) => format!("[{i}]"),
        })
        .collect();
    format!("[{}]", parts.join(", "))
}

#[derive(Debug, Clone)]
pub enum Operand {
    Path(Path),
    Value(AttrValue),
    Size(Box<Operand>),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CmpOp {
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
}

impl CmpOp {
    fn symbol(self) -> &'static str {
        match self {
            CmpOp::Eq => "=",
            CmpOp::Ne => "<>",
            CmpOp::Lt => "<",
            CmpOp::Le => "<=",
            CmpOp::Gt => ">",
            CmpOp::Ge => ">=",
        }
    }
}

#[derive(Debug, Clone)]
pub enum Cond {
    Cmp(CmpOp, Operand, Operand),
    Between(Operand, Operand, Operand),
    In(Operand, Vec<Operand>),
    Exists(Path),
    NotExists(Path),
    AttrType(Operand, Operand),
    BeginsWith(Operand, Operand),
    Contains(Operand, Operand),
    And(Box<Cond>, Box<Cond>),
    Or(Box<Cond>, Box<Cond>),
    Not(Box<Cond>),
}

/// The right-hand side of a SET action.
#[derive(Debug, Clone)]
pub enum SetValue {
    Operand(UpdOperand),
    Plus(UpdOperand, UpdOperand),
    Minus(UpdOperand, UpdOperand),
}

#[derive(Debug, Clone)]
pub enum UpdOperand {
    Path(Path),
    Value(AttrValue),
    IfNotExists(Path, Box<UpdOperand>),
    ListAppend(Box<UpdOperand>, Box<UpdOperand>),
    /// A parenthesised `a + b` (AWS accepts `SET x = (a + b)` only at the top, but nesting
    /// costs nothing to evaluate).
    Nested(Box<SetValue>),
}

#[derive(Debug, Clone, Default)]
pub struct Update {
    pub set: Vec<(Path, SetValue)>,
    pub remove: Vec<Path>,
    pub add: Vec<(Path, AttrValue)>,
    pub delete: Vec<(Path, AttrValue)>,
}

impl Update {
    /// Every path the update writes, in order.
    pub fn paths(&self) -> Vec<&Path> {
        self.set
            .iter()
            .map(|(p, _)| p)
            .chain(self.remove.iter())
            .chain(self.add.iter().map(|(p, _)| p))
            .chain(self.delete.iter().map(|(p, _)| p))
            .collect()
    }
}

/// The request's ExpressionAttributeNames/Values, and which of them were used.
#[derive(Debug, Default)]
pub struct Placeholders {
    names: HashMap<String, String>,
    values: HashMap<String, AttrValue>,
    used_names: HashSet<String>,
    used_values: HashSet<String>,
}

impl Placeholders {
    pub fn new(names: HashMap<String, String>, values: HashMap<String, AttrValue>) -> Self {
        Self { names, values, ..Default::default() }
    }

    /// AWS refuses a request that defines placeholders no expression uses.
    pub fn check_all_used(&self) -> Result<(), ApiError> {
        let unused = |all: Vec<&String>, used: &HashSet<String>| {
            let mut v: Vec<&str> = all.into_iter().filter(|k| !used.contains(*k)).map(String::as_str).collect();
            v.sort_unstable();
            v.join(", ")
        };
        let values = unused(self.values.keys().collect(), &self.used_values);
        if !values.is_empty() {
            return Err(ApiError::validation(format!(
                "Value provided in ExpressionAttributeValues unused in expressions: keys: {{{values}}}"
            )));
        }
        let names = unused(self.names.keys().collect(), &self.used_names);
        if !names.is_empty() {
            return Err(ApiError::validation(format!(
                "Value provided in ExpressionAttributeNames unused in expressions: keys: {{{names}}}"
            )));
        }
        Ok(())
    }
}

pub fn parse_condition(src: &str, kind: ExprKind, ph: &mut Placeholders) -> Result<Cond, ApiError> {
    let mut p = Parser::new(src, kind, ph)?;
    let cond = p.or_cond()?;
    p.expect_eof()?;
    p.finish()?;
    Ok(cond)
}

pub fn parse_update(src: &str, ph: &mut Placeholders) -> Result<Update, ApiError> {
    let mut p = Parser::new(src, ExprKind::Update, ph)?;
    let update = p.update()?;
    p.finish()?;
    Ok(update)
}

pub fn parse_projection(src: &str, ph: &mut Placeholders) -> Result<Vec<Path>, ApiError> {
    let mut p = Parser::new(src, ExprKind::Projection, ph)?;
    let mut paths = vec![p.path()?];
    while p.eat(&Tok::Comma) {
        paths.push(p.path()?);
    }
    p.expect_eof()?;
    for (i, path) in paths.iter().enumerate() {
        for earlier in &paths[..i] {
            p.check_overlap(earlier, path);
        }
    }
    p.finish()?;
    Ok(paths)
}

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    Ident(String),
    Name(String),
    Value(String),
    Int(String),
    LParen,
    RParen,
    LBracket,
    RBracket,
    Comma,
    Dot,
    Cmp(CmpOp),
    Plus,
    Minus,
    /// A character no token starts with; the parser reports it as a syntax error.
    Bad,
    Eof,
}

#[derive(Debug, Clone)]
struct Token {
    tok: Tok,
    start: usize,
    end: usize,
}

fn lex(src: &str) -> Vec<Token> {
    let bytes = src.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    let word = |i: usize| {
        let mut j = i;
        while j < bytes.len() && (bytes[j].is_ascii_alphanumeric() || bytes[j] == b'_') {
            j += 1;
        }
        j
    };
    while i < bytes.len() {
        let c = bytes[i];
        if c.is_ascii_whitespace() {
            i += 1;
            continue;
        }
        let start = i;
        let (tok, end) = match c {
            b'(' => (Tok::LParen, i + 1),
            b')' => (Tok::RParen, i + 1),
            b'[' => (Tok::LBracket, i + 1),
            b']' => (Tok::RBracket, i + 1),
            b',' => (Tok::Comma, i + 1),
            b'.' => (Tok::Dot, i + 1),
            b'+' => (Tok::Plus, i + 1),
            b'-' => (Tok::Minus, i + 1),
            b'=' => (Tok::Cmp(CmpOp::Eq), i + 1),
            b'<' => match bytes.get(i + 1) {
                Some(b'=') => (Tok::Cmp(CmpOp::Le), i + 2),
                Some(b'>') => (Tok::Cmp(CmpOp::Ne), i + 2),
                _ => (Tok::Cmp(CmpOp::Lt), i + 1),
            },
            b'>' => match bytes.get(i + 1) {
                Some(b'=') => (Tok::Cmp(CmpOp::Ge), i + 2),
                _ => (Tok::Cmp(CmpOp::Gt), i + 1),
            },
            b'#' | b':' => {
                let end = word(i + 1);
                if end == i + 1 {
                    (Tok::Bad, i + 1)
                } else if c == b'#' {
                    (Tok::Name(src[i..end].to_string()), end)
                } else {
                    (Tok::Value(src[i..end].to_string()), end)
                }
            }
            b'0'..=b'9' => {
                let mut end = i;
                while end < bytes.len() && bytes[end].is_ascii_digit() {
                    end += 1;
                }
                (Tok::Int(src[i..end].to_string()), end)
            }
            c if c.is_ascii_alphabetic() || c == b'_' => {
                let end = word(i);
                (Tok::Ident(src[i..end].to_string()), end)
            }
            _ => {
                // One whole (possibly multi-byte) character.
                let len = src[i..].chars().next().map_or(1, char::len_utf8);
                (Tok::Bad, i + len)
            }
        };
        out.push(Token { tok, start, end });
        if matches!(out.last(), Some(Token { tok: Tok::Bad, .. })) {
            // Nothing after a bad character matters: the parse fails there.
            break;
        }
        i = end;
    }
    // The end sits right after the last token, so trailing blanks never show in `near`.
    let end = out.last().map_or(0, |t| t.end);
    out.push(Token { tok: Tok::Eof, start: end, end });
    out
}

fn is_keyword(word: &str, kw: &str) -> bool {
    word.eq_ignore_ascii_case(kw)
}

/// Words the condition grammar reserves for itself: never a path or a function name.
fn is_condition_keyword(word: &str) -> bool {
    ["AND", "OR", "NOT", "BETWEEN", "IN"].iter().any(|k| is_keyword(word, k))
}

fn update_section(word: &str) -> Option<&'static str> {
    ["SET", "REMOVE", "ADD", "DELETE"].into_iter().find(|k| is_keyword(word, k))
}

struct Parser<'a> {
    src: &'a str,
    toks: Vec<Token>,
    pos: usize,
    kind: ExprKind,
    ph: &'a mut Placeholders,
    /// The first semantic error; reported only if the whole expression parses.
    error: Option<String>,
    depth: usize,
    /// Token positions of the `(` and `)` of the parenthesised group closed last, to tell
    /// `((…))`, which AWS refuses as redundant, from `((…) AND …)`, which it accepts.
    last_group: Option<(usize, usize)>,
}

type PResult<T> = Result<T, ApiError>;

impl<'a> Parser<'a> {
    fn new(src: &'a str, kind: ExprKind, ph: &'a mut Placeholders) -> PResult<Self> {
        let invalid = |m: String| ApiError::validation(format!("Invalid {}: {m}", kind.name()));
        if src.len() > MAX_EXPRESSION_LEN {
            return Err(invalid(format!(
                "Expression size has exceeded the maximum allowed size; expression size: {}",
                src.len()
            )));
        }
        if src.trim().is_empty() {
            return Err(invalid("The expression can not be empty;".into()));
        }
        Ok(Self { src, toks: lex(src), pos: 0, kind, ph, error: None, depth: 0, last_group: None })
    }

    fn finish(&self) -> PResult<()> {
        match &self.error {
            Some(m) => Err(self.invalid(m)),
            None => Ok(()),
        }
    }

    fn invalid(&self, msg: &str) -> ApiError {
        ApiError::validation(format!("Invalid {}: {msg}", self.kind.name()))
    }

    fn note(&mut self, msg: String) {
        if self.error.is_none() {
            self.error = Some(msg);
        }
    }

    fn peek(&self) -> &Tok {
        &self.toks[self.pos.min(self.toks.len() - 1)].tok
    }

    fn peek_at(&self, ahead: usize) -> &Tok {
        &self.toks[(self.pos + ahead).min(self.toks.len() - 1)].tok
    }

    fn bump(&mut self) -> Tok {
        let t = self.peek().clone();
        if self.pos < self.toks.len() - 1 {
            self.pos += 1;
        }
        t
    }

    fn eat(&mut self, tok: &Tok) -> bool {
        if self.peek() == tok {
            self.bump();
            true
        } else {
            false
        }
    }

    fn eat_keyword(&mut self, kw: &str) -> bool {
        if matches!(self.peek(), Tok::Ident(w) if is_keyword(w, kw)) {
            self.bump();
            true
        } else {
            false
        }
    }

    fn expect(&mut self, tok: &Tok) -> PResult<()> {
        if self.eat(tok) { Ok(()) } else { Err(self.syntax_error()) }
    }

    fn expect_eof(&mut self) -> PResult<()> {
        if *self.peek() == Tok::Eof { Ok(()) } else { Err(self.syntax_error()) }
    }

    /// AWS's wording: the unexpected token and the text around it (from the previous
    /// token to this one).
    fn syntax_error(&self) -> ApiError {
        let i = self.pos.min(self.toks.len() - 1);
        let t = &self.toks[i];
        let token = if t.tok == Tok::Eof { "<EOF>".to_string() } else { self.src[t.start..t.end].to_string() };
        let near = if i > 0 {
            self.src[self.toks[i - 1].start..t.end].to_string()
        } else {
            let next_end = self.src[t.end..].chars().next().map_or(t.end, |c| t.end + c.len_utf8());
            self.src[t.start..next_end].to_string()
        };
        self.invalid(&format!("Syntax error; token: \"{token}\", near: \"{near}\""))
    }

    fn enter(&mut self) -> PResult<()> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return Err(self.invalid(&format!("The expression is nested more than {MAX_DEPTH} levels deep;")));
        }
        Ok(())
    }

    fn leave(&mut self) {
        self.depth -= 1;
    }

    // ---- paths and values ----

    fn path_name(&mut self) -> PResult<String> {
        match self.peek().clone() {
            Tok::Ident(w) if !(self.kind != ExprKind::Update && is_condition_keyword(&w)) => {
                self.bump();
                if is_reserved(&w) {
                    self.note(format!("Attribute name is a reserved keyword; reserved keyword: {w}"));
                }
                Ok(w)
            }
            Tok::Name(n) => {
                self.bump();
                match self.ph.names.get(&n) {
                    Some(real) => {
                        self.ph.used_names.insert(n);
                        Ok(real.clone())
                    }
                    None => {
                        self.note(format!(
                            "An expression attribute name used in the document path is not defined; attribute name: {n}"
                        ));
                        Ok(n)
                    }
                }
            }
            _ => Err(self.syntax_error()),
        }
    }

    fn path(&mut self) -> PResult<Path> {
        let mut path = vec![PathElem::Attr(self.path_name()?)];
        loop {
            if self.eat(&Tok::Dot) {
                path.push(PathElem::Attr(self.path_name()?));
            } else if *self.peek() == Tok::LBracket {
                self.bump();
                let Tok::Int(digits) = self.peek().clone() else {
                    return Err(self.syntax_error());
                };
                let Ok(index) = digits.parse::<usize>() else {
                    return Err(self.syntax_error());
                };
                self.bump();
                self.expect(&Tok::RBracket)?;
                path.push(PathElem::Index(index));
            } else {
                break;
            }
            if path.len() > MAX_PATH_DEPTH {
                return Err(self.invalid(&format!(
                    "The document path has too many nesting levels; nesting levels: {}",
                    path.len()
                )));
            }
        }
        Ok(path)
    }

    fn value(&mut self) -> PResult<AttrValue> {
        let Tok::Value(v) = self.peek().clone() else {
            return Err(self.syntax_error());
        };
        self.bump();
        match self.ph.values.get(&v) {
            Some(value) => {
                let value = value.clone();
                self.ph.used_values.insert(v);
                Ok(value)
            }
            None => {
                self.note(format!(
                    "An expression attribute value used in expression is not defined; attribute value: {v}"
                ));
                Ok(AttrValue::Null)
            }
        }
    }

    fn is_call(&self) -> bool {
        matches!(self.peek(), Tok::Ident(_)) && *self.peek_at(1) == Tok::LParen
    }

    // ---- conditions ----

    fn or_cond(&mut self) -> PResult<Cond> {
        let mut left = self.and_cond()?;
        while self.eat_keyword("OR") {
            let right = self.and_cond()?;
            left = Cond::Or(Box::new(left), Box::new(right));
        }
        Ok(left)
    }

    fn and_cond(&mut self) -> PResult<Cond> {
        let mut left = self.not_cond()?;
        while self.eat_keyword("AND") {
            let right = self.not_cond()?;
            left = Cond::And(Box::new(left), Box::new(right));
        }
        Ok(left)
    }

    fn not_cond(&mut self) -> PResult<Cond> {
        if self.eat_keyword("NOT") {
            self.enter()?;
            let inner = self.not_cond()?;
            self.leave();
            return Ok(Cond::Not(Box::new(inner)));
        }
        self.primary_cond()
    }

    /// Parses `( inner )` after checking the `(` is there; refuses `((…))`.
    fn group<T>(&mut self, inner: impl FnOnce(&mut Self) -> PResult<T>) -> PResult<T> {
        let open = self.pos;
        self.expect(&Tok::LParen)?;
        self.enter()?;
        let value = inner(self)?;
        let close = self.pos;
        self.expect(&Tok::RParen)?;
        self.leave();
        if self.last_group == Some((open + 1, close - 1)) {
            self.note("The expression has redundant parentheses;".into());
        }
        self.last_group = Some((open, close));
        Ok(value)
    }

    fn primary_cond(&mut self) -> PResult<Cond> {
        if *self.peek() == Tok::LParen {
            return self.group(Self::or_cond);
        }
        if self.is_call() {
            let Tok::Ident(name) = self.peek().clone() else { return Err(self.syntax_error()) };
            if name != "size" {
                return self.function_cond(name);
            }
        }
        let left = self.operand()?;
        match self.peek().clone() {
            Tok::Cmp(op) => {
                self.bump();
                let right = self.operand()?;
                self.check_distinct(op.symbol(), &left, &right);
                Ok(Cond::Cmp(op, left, right))
            }
            Tok::Ident(w) if is_keyword(&w, "BETWEEN") => {
                self.bump();
                let low = self.operand()?;
                if !self.eat_keyword("AND") {
                    return Err(self.syntax_error());
                }
                let high = self.operand()?;
                self.check_between(&low, &high);
                Ok(Cond::Between(left, low, high))
            }
            Tok::Ident(w) if is_keyword(&w, "IN") => {
                self.bump();
                self.expect(&Tok::LParen)?;
                let mut list = vec![self.operand()?];
                while self.eat(&Tok::Comma) {
                    list.push(self.operand()?);
                }
                self.expect(&Tok::RParen)?;
                if list.len() > MAX_IN_OPERANDS {
                    self.note(format!(
                        "The IN operator is provided with too many operands; number of operands: {}",
                        list.len()
                    ));
                }
                Ok(Cond::In(left, list))
            }
            _ => {
                if matches!(left, Operand::Size(_)) {
                    self.note(
                        "The function is not allowed to be used this way in an expression; function: size".into(),
                    );
                }
                Err(self.syntax_error())
            }
        }
    }

    /// An operand: a path, a value, or `size(…)`.
    fn operand(&mut self) -> PResult<Operand> {
        if self.is_call() {
            let Tok::Ident(name) = self.bump() else { return Err(self.syntax_error()) };
            let args = self.call_args()?;
            if name == "size" {
                if args.len() != 1 {
                    self.note(format!(
                        "Incorrect number of operands for operator or function; operator or function: size, number of operands: {}",
                        args.len()
                    ));
                    return Ok(Operand::Value(AttrValue::Null));
                }
                if let Some(Operand::Value(v)) = args.first()
                    && matches!(v, AttrValue::N(_) | AttrValue::Bool(_) | AttrValue::Null)
                {
                    self.note(format!(
                        "Incorrect operand type for operator or function; operator or function: size, operand type: {}",
                        v.type_name()
                    ));
                }
                let arg = args.into_iter().next().unwrap_or(Operand::Value(AttrValue::Null));
                return Ok(Operand::Size(Box::new(arg)));
            }
            if is_condition_function(&name) {
                self.note(format!(
                    "The function is not allowed to be used this way in an expression; function: {name}"
                ));
            } else {
                self.note(format!("Invalid function name; function: {name}"));
            }
            return Ok(Operand::Value(AttrValue::Null));
        }
        match self.peek() {
            Tok::Value(_) => Ok(Operand::Value(self.value()?)),
            _ => Ok(Operand::Path(self.path()?)),
        }
    }

    fn call_args(&mut self) -> PResult<Vec<Operand>> {
        self.expect(&Tok::LParen)?;
        self.enter()?;
        let mut args = vec![self.operand()?];
        while self.eat(&Tok::Comma) {
            args.push(self.operand()?);
        }
        self.expect(&Tok::RParen)?;
        self.leave();
        Ok(args)
    }

    fn function_cond(&mut self, name: String) -> PResult<Cond> {
        self.bump();
        let args = self.call_args()?;
        let Some(arity) = condition_function_arity(&name) else {
            self.note(format!("Invalid function name; function: {name}"));
            return Ok(Cond::Exists(Vec::new()));
        };
        if args.len() != arity {
            self.note(format!(
                "Incorrect number of operands for operator or function; operator or function: {name}, number of operands: {}",
                args.len()
            ));
            return Ok(Cond::Exists(Vec::new()));
        }
        let mut args = args.into_iter();
        let (a, b) = (args.next(), args.next());
        let needs_path = |p: &mut Self, op: Option<Operand>| match op {
            Some(Operand::Path(path)) => path,
            _ => {
                p.note(format!("Operator or function requires a document path; operator or function: {name}"));
                Vec::new()
            }
        };
        Ok(match name.as_str() {
            "attribute_exists" => Cond::Exists(needs_path(self, a)),
            "attribute_not_exists" => Cond::NotExists(needs_path(self, a)),
            "attribute_type" => {
                match &b {
                    Some(Operand::Value(AttrValue::S(t))) => {
                        if !["S", "N", "B", "NULL", "SS", "BOOL", "L", "BS", "NS", "M"].contains(&t.as_str()) {
                            self.note(format!(
                                "Invalid attribute type name found; type: {t}, valid types: {{B,NULL,SS,BOOL,L,BS,N,NS,S,M}}"
                            ));
                        }
                    }
                    Some(Operand::Value(v)) => self.note(format!(
                        "Incorrect operand type for operator or function; operator or function: attribute_type, operand type: {}",
                        v.type_name()
                    )),
                    _ => self.note(
                        "Incorrect operand type for operator or function; operator or function: attribute_type, operand type: {NS,SS,L,BS,N,M,B,BOOL,NULL,S}".into(),
                    ),
                }
                Cond::AttrType(Operand::Path(needs_path(self, a)), b.unwrap_or(Operand::Value(AttrValue::Null)))
            }
            "begins_with" => {
                for op in [&a, &b].into_iter().flatten() {
                    if let Operand::Value(v) = op
                        && !matches!(v, AttrValue::S(_) | AttrValue::B(_))
                    {
                        self.note(format!(
                                "Incorrect operand type for operator or function; operator or function: begins_with, operand type: {}",
                                v.type_name()
                            ));
                    }
                }
                let null = || Operand::Value(AttrValue::Null);
                Cond::BeginsWith(a.unwrap_or_else(null), b.unwrap_or_else(null))
            }
            _ => {
                let null = || Operand::Value(AttrValue::Null);
                let (a, b) = (a.unwrap_or_else(null), b.unwrap_or_else(null));
                self.check_distinct("contains", &a, &b);
                Cond::Contains(a, b)
            }
        })
    }

    fn check_distinct(&mut self, op: &str, a: &Operand, b: &Operand) {
        if let (Operand::Path(x), Operand::Path(y)) = (a, b)
            && x == y
        {
            self.note(format!(
                    "The first operand must be distinct from the remaining operands for this operator or function; operator: {op}, first operand: {}",
                    path_str(x)
                ));
        }
    }

    fn check_between(&mut self, low: &Operand, high: &Operand) {
        let (Operand::Value(l), Operand::Value(h)) = (low, high) else { return };
        if l.type_name() != h.type_name() {
            self.note(format!(
                "The BETWEEN operator requires same data type for lower and upper bounds; lower bound operand: AttributeValue: {}, upper bound operand: AttributeValue: {}",
                l.describe(),
                h.describe()
            ));
        } else if l.partial_order(h) == Some(std::cmp::Ordering::Greater) {
            self.note(format!(
                "The BETWEEN operator requires upper bound to be greater than or equal to lower bound; lower bound operand: AttributeValue: {}, upper bound operand: AttributeValue: {}",
                l.describe(),
                h.describe()
            ));
        }
    }

    // ---- update expressions ----

    fn update(&mut self) -> PResult<Update> {
        let mut update = Update::default();
        let mut seen: Vec<&'static str> = Vec::new();
        let mut paths: Vec<Path> = Vec::new();
        loop {
            let section = match self.peek() {
                Tok::Ident(w) => update_section(w),
                Tok::Eof if !seen.is_empty() => break,
                _ => None,
            };
            let Some(section) = section else { return Err(self.syntax_error()) };
            self.bump();
            if seen.contains(&section) {
                self.note(format!("The \"{section}\" section can only be used once in an update expression;"));
            }
            seen.push(section);
            loop {
                let path = self.path()?;
                for earlier in &paths {
                    self.check_overlap(earlier, &path);
                }
                paths.push(path.clone());
                match section {
                    "SET" => {
                        self.expect(&Tok::Cmp(CmpOp::Eq))?;
                        let value = self.set_value()?;
                        update.set.push((path, value));
                    }
                    "REMOVE" => update.remove.push(path),
                    _ => {
                        let value = self.value()?;
                        self.check_add_delete_operand(section, &value);
                        if section == "ADD" {
                            update.add.push((path, value));
                        } else {
                            update.delete.push((path, value));
                        }
                    }
                }
                if !self.eat(&Tok::Comma) {
                    break;
                }
            }
        }
        Ok(update)
    }

    fn check_add_delete_operand(&mut self, section: &str, value: &AttrValue) {
        let name = match value {
            AttrValue::S(_) => "STRING",
            AttrValue::N(_) if section == "ADD" => return,
            AttrValue::N(_) => "NUMBER",
            AttrValue::B(_) => "BINARY",
            AttrValue::Null => "NULL",
            AttrValue::Bool(_) => "BOOLEAN",
            AttrValue::L(_) => "LIST",
            AttrValue::M(_) => "MAP",
            AttrValue::Ss(_) | AttrValue::Ns(_) | AttrValue::Bs(_) => return,
        };
        self.note(format!(
            "Incorrect operand type for operator or function; operator: {section}, operand type: {name}"
        ));
    }

    fn check_overlap(&mut self, a: &Path, b: &Path) {
        for (x, y) in a.iter().zip(b.iter()) {
            match (x, y) {
                (PathElem::Attr(_), PathElem::Index(_)) | (PathElem::Index(_), PathElem::Attr(_)) => {
                    self.note(format!(
                        "Two document paths conflict with each other; must remove or rewrite one of these paths; path one: {}, path two: {}",
                        path_str(a),
                        path_str(b)
                    ));
                    return;
                }
                _ if x != y => return,
                _ => {}
            }
        }
        self.note(format!(
            "Two document paths overlap with each other; must remove or rewrite one of these paths; path one: {}, path two: {}",
            path_str(a),
            path_str(b)
        ));
    }

    fn set_value(&mut self) -> PResult<SetValue> {
        let left = self.upd_operand()?;
        let op = match self.peek() {
            Tok::Plus => "+",
            Tok::Minus => "-",
            _ => return Ok(SetValue::Operand(left)),
        };
        self.bump();
        let right = self.upd_operand()?;
        for side in [&left, &right] {
            if let UpdOperand::Value(v) = side
                && !matches!(v, AttrValue::N(_))
            {
                self.note(format!(
                    "Incorrect operand type for operator or function; operator or function: {op}, operand type: {}",
                    v.type_name()
                ));
            }
        }
        Ok(if op == "+" { SetValue::Plus(left, right) } else { SetValue::Minus(left, right) })
    }

    fn upd_operand(&mut self) -> PResult<UpdOperand> {
        if *self.peek() == Tok::LParen {
            let inner = self.group(Self::set_value)?;
            return Ok(match inner {
                SetValue::Operand(op) => op,
                other => UpdOperand::Nested(Box::new(other)),
            });
        }
        if self.is_call() {
            let Tok::Ident(name) = self.bump() else { return Err(self.syntax_error()) };
            self.expect(&Tok::LParen)?;
            self.enter()?;
            let mut args = vec![self.upd_operand()?];
            while self.eat(&Tok::Comma) {
                args.push(self.upd_operand()?);
            }
            self.expect(&Tok::RParen)?;
            self.leave();
            let null = || UpdOperand::Value(AttrValue::Null);
            if name != "if_not_exists" && name != "list_append" {
                self.note(format!("Invalid function name; function: {name}"));
                return Ok(null());
            }
            if args.len() != 2 {
                self.note(format!(
                    "Incorrect number of operands for operator or function; operator or function: {name}, number of operands: {}",
                    args.len()
                ));
                return Ok(null());
            }
            let mut args = args.into_iter();
            let (a, b) = (args.next().unwrap_or_else(null), args.next().unwrap_or_else(null));
            if name == "if_not_exists" {
                let UpdOperand::Path(path) = a else {
                    self.note(
                        "Operator or function requires a document path; operator or function: if_not_exists".into(),
                    );
                    return Ok(null());
                };
                return Ok(UpdOperand::IfNotExists(path, Box::new(b)));
            }
            for side in [&a, &b] {
                if let UpdOperand::Value(v) = side
                    && !matches!(v, AttrValue::L(_))
                {
                    self.note(format!(
                            "Incorrect operand type for operator or function; operator or function: list_append, operand type: {}",
                            v.type_name()
                        ));
                }
            }
            return Ok(UpdOperand::ListAppend(Box::new(a), Box::new(b)));
        }
        match self.peek() {
            Tok::Value(_) => Ok(UpdOperand::Value(self.value()?)),
            _ => Ok(UpdOperand::Path(self.path()?)),
        }
    }
}

fn condition_function_arity(name: &str) -> Option<usize> {
    Some(match name {
        "attribute_exists" | "attribute_not_exists" => 1,
        "attribute_type" | "begins_with" | "contains" => 2,
        _ => return None,
    })
}

fn is_condition_function(name: &str) -> bool {
    condition_function_arity(name).is_some()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::local::dynamodb::number::Number;

    fn ph(names: &[(&str, &str)], values: &[(&str, AttrValue)]) -> Placeholders {
        Placeholders::new(
            names.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect(),
            values.iter().map(|(k, v)| (k.to_string(), v.clone())).collect(),
        )
    }

    fn s(v: &str) -> AttrValue {
        AttrValue::S(v.into())
    }

    fn n(v: &str) -> AttrValue {
        AttrValue::N(Number::parse(v).unwrap())
    }

    fn cond_err(src: &str, p: &mut Placeholders) -> String {
        parse_condition(src, ExprKind::Condition, p).unwrap_err().message
    }

    #[test]
    fn parses_conditions_with_precedence() {
        let mut p = ph(&[("#u", "Username")], &[(":a", s("x")), (":b", n("1")), (":c", n("5"))]);
        let c = parse_condition(
            "attribute_not_exists(#u) OR a = :a AND NOT (b BETWEEN :b AND :c) AND c IN (:a, :b)",
            ExprKind::Condition,
            &mut p,
        )
        .unwrap();
        // OR binds loosest: Or(NotExists, And(And(=, Not), In))
        let Cond::Or(left, right) = c else { panic!("expected OR at the top") };
        assert!(matches!(*left, Cond::NotExists(ref path) if path == &vec![PathElem::Attr("Username".into())]));
        assert!(matches!(*right, Cond::And(_, ref r) if matches!(**r, Cond::In(_, ref l) if l.len() == 2)));
        assert!(p.check_all_used().is_ok());
    }

    #[test]
    fn parses_nested_paths_and_functions() {
        let mut p = ph(&[], &[(":p", s("ab")), (":n", n("3"))]);
        parse_condition("begins_with(a.b[2].c, :p) AND size(l) > :n AND contains(ss, :p)", ExprKind::Filter, &mut p)
            .unwrap();
        parse_condition("attribute_type(a, :p)", ExprKind::Condition, &mut p).unwrap_err();
    }

    #[test]
    fn syntax_errors_name_the_token_like_aws() {
        let mut p = ph(&[], &[(":v", s("x"))]);
        assert_eq!(
            cond_err("a = ", &mut p),
            "Invalid ConditionExpression: Syntax error; token: \"<EOF>\", near: \"=\""
        );
        assert_eq!(cond_err("a b", &mut p), "Invalid ConditionExpression: Syntax error; token: \"b\", near: \"a b\"");
        assert_eq!(cond_err("!!!", &mut p), "Invalid ConditionExpression: Syntax error; token: \"!\", near: \"!!\"");
        assert_eq!(
            cond_err("a = :v)", &mut p),
            "Invalid ConditionExpression: Syntax error; token: \")\", near: \":v)\""
        );
        let mut p = ph(&[], &[]);
        let err = parse_update("SET a", &mut p).unwrap_err().message;
        assert_eq!(err, "Invalid UpdateExpression: Syntax error; token: \"<EOF>\", near: \"a\"");
    }

    #[test]
    fn semantic_errors_use_aws_messages() {
        let mut p = ph(&[], &[]);
        assert_eq!(
            cond_err("a = :nope", &mut p),
            "Invalid ConditionExpression: An expression attribute value used in expression is not defined; attribute value: :nope"
        );
        assert_eq!(
            cond_err("#x = #x", &mut p),
            "Invalid ConditionExpression: An expression attribute name used in the document path is not defined; attribute name: #x"
        );
        let mut p = ph(&[], &[(":v", s("x"))]);
        assert_eq!(
            cond_err("name = :v", &mut p),
            "Invalid ConditionExpression: Attribute name is a reserved keyword; reserved keyword: name"
        );
        assert_eq!(
            cond_err("nosuch(a)", &mut p),
            "Invalid ConditionExpression: Invalid function name; function: nosuch"
        );
        let mut p = ph(&[], &[(":lo", n("5")), (":hi", n("1"))]);
        assert!(cond_err("a BETWEEN :lo AND :hi", &mut p).contains("upper bound to be greater than or equal"));
        let mut p = ph(&[], &[]);
        assert_eq!(cond_err("   ", &mut p), "Invalid ConditionExpression: The expression can not be empty;");
    }

    #[test]
    fn parses_update_sections() {
        let mut p = ph(
            &[("#c", "count")],
            &[(":one", n("1")), (":l", AttrValue::L(vec![])), (":ss", AttrValue::Ss(vec!["a".into()]))],
        );
        let u = parse_update(
            "SET #c = #c + :one, l = list_append(if_not_exists(l, :l), :l), m.x[1] = :one REMOVE gone, m.y ADD tags :ss DELETE extra :ss",
            &mut p,
        )
        .unwrap();
        assert_eq!((u.set.len(), u.remove.len(), u.add.len(), u.delete.len()), (3, 2, 1, 1));
        assert!(p.check_all_used().is_ok());
    }

    #[test]
    fn update_semantic_errors() {
        let mut p = ph(&[], &[(":v", s("x")), (":n", n("1"))]);
        let e = |src: &str, p: &mut Placeholders| parse_update(src, p).unwrap_err().message;
        assert_eq!(
            e("SET a = :n SET b = :n", &mut p),
            "Invalid UpdateExpression: The \"SET\" section can only be used once in an update expression;"
        );
        assert_eq!(
            e("ADD a :v", &mut p),
            "Invalid UpdateExpression: Incorrect operand type for operator or function; operator: ADD, operand type: STRING"
        );
        assert_eq!(
            e("SET a = :n REMOVE a.b", &mut p),
            "Invalid UpdateExpression: Two document paths overlap with each other; must remove or rewrite one of these paths; path one: [a], path two: [a, b]"
        );
        assert!(e("SET a = :v + :n", &mut p).contains("operator or function: +, operand type: S"));
        assert!(e("SET a = nope(b, :n)", &mut p).contains("Invalid function name; function: nope"));
    }

    #[test]
    fn projections_parse_and_detect_overlap() {
        let mut p = ph(&[("#n", "name")], &[]);
        let paths = parse_projection("#n, a.b[0], c", &mut p).unwrap();
        assert_eq!(paths.len(), 3);
        let err = parse_projection("a, a.b", &mut p).unwrap_err().message;
        assert!(err.contains("Two document paths overlap"), "{err}");
    }

    #[test]
    fn doubled_parentheses_are_redundant_but_one_pair_at_each_level_is_not() {
        let mut p = ph(&[], &[(":v", s("x"))]);
        let redundant = "Invalid ConditionExpression: The expression has redundant parentheses;";
        assert_eq!(cond_err("((a = :v))", &mut p), redundant);
        assert_eq!(cond_err("a = :v AND ((b = :v))", &mut p), redundant);
        for fine in ["(a = :v)", "((a = :v) AND b = :v)", "((a = :v) AND (b = :v))", "NOT (a = :v)"] {
            parse_condition(fine, ExprKind::Condition, &mut p).unwrap_or_else(|e| panic!("{fine}: {}", e.message));
        }
        let err = parse_update("SET a = ((:v))", &mut p).unwrap_err().message;
        assert_eq!(err, "Invalid UpdateExpression: The expression has redundant parentheses;");
    }

    #[test]
    fn unused_placeholders_are_reported() {
        let mut p = ph(&[("#a", "a"), ("#b", "b")], &[(":x", s("1")), (":y", s("2"))]);
        parse_condition("#a = :x", ExprKind::Condition, &mut p).unwrap();
        assert_eq!(
            p.check_all_used().unwrap_err().message,
            "Value provided in ExpressionAttributeValues unused in expressions: keys: {:y}"
        );
    }

    #[test]
    fn hostile_input_is_refused_without_panicking() {
        let mut p = ph(&[], &[(":v", s("x"))]);
        let deep = format!("{}a = :v{}", "(".repeat(3000), ")".repeat(3000));
        assert!(cond_err(&deep, &mut p).starts_with("Invalid ConditionExpression: Expression size has exceeded"));
        let deep = format!("{}a = :v{}", "(".repeat(1000), ")".repeat(1000));
        assert!(cond_err(&deep, &mut p).contains("nested more than"));
        let nots = format!("{}a = :v", "NOT ".repeat(500));
        assert!(cond_err(&nots, &mut p).contains("nested more than"));
        let calls = format!("{}a{}", "size(".repeat(800), ")".repeat(800));
        assert!(cond_err(&calls, &mut p).starts_with("Invalid ConditionExpression"));
        let path = format!("a{} = :v", ".b".repeat(40));
        assert!(cond_err(&path, &mut p).contains("too many nesting levels"));
        for junk in
            ["", "(", ")", "a[", "a[99999999999999999999999] = :v", "é = :v", "#", ":", "a = :v AND", "NOT", "a IN ()"]
        {
            let _ = parse_condition(junk, ExprKind::Condition, &mut p);
            let _ = parse_update(junk, &mut p);
            let _ = parse_projection(junk, &mut p);
        }
    }
}
