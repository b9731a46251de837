//! DynamoDB numbers: decimal, up to 38 significant digits, magnitude 1E-130 to
//! 9.9999999999999999999999999999999999999E+125, compared numerically, printed in plain
//! notation with trailing zeros stripped (so "1.50" comes back as "1.5", "1E2" as "100").

use std::cmp::Ordering;

const MAX_DIGITS: usize = 38;
/// value = 0.d1d2… × 10^exp, so 1E+126 has exp 127 and 1E-130 has exp -129.
const MAX_EXP: i32 = 126;
const MIN_EXP: i32 = -129;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NumberError {
    #[error("The parameter cannot be converted to a numeric value")]
    Empty,
    #[error("The parameter cannot be converted to a numeric value: {0}")]
    Invalid(String),
    #[error("Number overflow. Attempting to store a number with magnitude larger than supported range")]
    Overflow,
    #[error("Number underflow. Attempting to store a number with magnitude smaller than supported range")]
    Underflow,
    #[error("Attempting to store more than 38 significant digits in a Number")]
    Precision,
}

/// A normalised number: `digits` has no leading or trailing zeros (empty for zero), so
/// two equal numbers have equal representations.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Number {
    negative: bool,
    digits: Vec<u8>,
    exp: i32,
}

impl Number {
    pub fn zero() -> Self {
        Number { negative: false, digits: Vec::new(), exp: 0 }
    }

    pub fn from_u64(n: u64) -> Self {
        // A decimal string of digits always parses.
        Self::parse(&n.to_string()).unwrap_or_else(|_| Self::zero())
    }

    pub fn is_zero(&self) -> bool {
        self.digits.is_empty()
    }

    /// Parses DynamoDB's number syntax: optional sign, digits with an optional point,
    /// optional exponent.
    pub fn parse(s: &str) -> Result<Self, NumberError> {
        if s.is_empty() {
            return Err(NumberError::Empty);
        }
        let invalid = || NumberError::Invalid(s.to_string());
        let bytes = s.as_bytes();
        let mut i = 0;
        let mut negative = false;
        if matches!(bytes.first(), Some(b'+' | b'-')) {
            negative = bytes[0] == b'-';
            i = 1;
        }
        let mut mantissa = Vec::new();
        let mut point: Option<usize> = None;
        let mut saw_digit = false;
        while i < bytes.len() {
            match bytes[i] {
                b @ b'0'..=b'9' => {
                    mantissa.push(b - b'0');
                    saw_digit = true;
                }
                b'.' if point.is_none() => point = Some(mantissa.len()),
                b'e' | b'E' => break,
                _ => return Err(invalid()),
            }
            i += 1;
        }
        if !saw_digit {
            return Err(invalid());
        }
        let mut exp10: i64 = 0;
        if i < bytes.len() {
            // An exponent: [eE][+-]?digits
            i += 1;
            let mut exp_negative = false;
            if matches!(bytes.get(i), Some(b'+' | b'-')) {
                exp_negative = bytes[i] == b'-';
                i += 1;
            }
            if i >= bytes.len() {
                return Err(invalid());
            }
            for &b in &bytes[i..] {
                if !b.is_ascii_digit() {
                    return Err(invalid());
                }
                // Saturate: anything this large is out of range anyway.
                exp10 = (exp10 * 10 + i64::from(b - b'0')).min(1_000_000_000);
            }
            if exp_negative {
                exp10 = -exp10;
            }
        }
        let int_len = point.unwrap_or(mantissa.len()) as i64;
        let leading = mantissa.iter().take_while(|&&d| d == 0).count();
        let mut digits = mantissa[leading..].to_vec();
        while digits.last() == Some(&0) {
            digits.pop();
        }
        if digits.is_empty() {
            return Ok(Self::zero());
        }
        let exp = int_len - leading as i64 + exp10;
        Self::checked(negative, digits, exp)
    }

    fn checked(negative: bool, digits: Vec<u8>, exp: i64) -> Result<Self, NumberError> {
        if digits.is_empty() {
            return Ok(Self::zero());
        }
        if exp > i64::from(MAX_EXP) {
            return Err(NumberError::Overflow);
        }
        if exp < i64::from(MIN_EXP) {
            return Err(NumberError::Underflow);
        }
        if digits.len() > MAX_DIGITS {
            return Err(NumberError::Precision);
        }
        Ok(Number { negative, digits, exp: exp as i32 })
    }

    /// The number of significant digits (for item size accounting).
    pub fn significant_digits(&self) -> usize {
        self.digits.len()
    }

    pub fn negated(&self) -> Self {
        let mut n = self.clone();
        if !n.is_zero() {
            n.negative = !n.negative;
        }
        n
    }

    /// Exact decimal addition; the result must itself be a valid DynamoDB number.
    pub fn add(&self, other: &Number) -> Result<Number, NumberError> {
        if self.is_zero() {
            return Ok(other.clone());
        }
        if other.is_zero() {
            return Ok(self.clone());
        }
        // Integer digit strings scaled to the exponent of the least significant digit.
        let scale_a = i64::from(self.exp) - self.digits.len() as i64;
        let scale_b = i64::from(other.exp) - other.digits.len() as i64;
        let scale = scale_a.min(scale_b);
        let pad = |n: &Number, own: i64| {
            let mut v = n.digits.clone();
            v.extend(std::iter::repeat_n(0u8, (own - scale) as usize));
            v
        };
        let a = pad(self, scale_a);
        let b = pad(other, scale_b);
        let (negative, mag) = if self.negative == other.negative {
            (self.negative, add_mag(&a, &b))
        } else {
            match cmp_mag(&a, &b) {
                Ordering::Equal => return Ok(Self::zero()),
                Ordering::Greater => (self.negative, sub_mag(&a, &b)),
                Ordering::Less => (other.negative, sub_mag(&b, &a)),
            }
        };
        let leading = mag.iter().take_while(|&&d| d == 0).count();
        let mut digits = mag[leading..].to_vec();
        let exp = digits.len() as i64 + scale;
        while digits.last() == Some(&0) {
            digits.pop();
        }
        Self::checked(negative, digits, exp)
    }

    pub fn sub(&self, other: &Number) -> Result<Number, NumberError> {
        self.add(&other.negated())
    }

    /// Bytes whose bytewise order is the numeric order (for sort keys in SQLite).
    pub fn sort_key(&self) -> Vec<u8> {
        if self.is_zero() {
            return vec![0x02];
        }
        let biased = (self.exp + 1000) as u16;
        if self.negative {
            // Larger magnitude sorts first: invert the exponent and the digits, and end
            // with a terminator above every digit so a shorter magnitude sorts later.
            let mut out = vec![0x01];
            out.extend_from_slice(&(u16::MAX - biased).to_be_bytes());
            out.extend(self.digits.iter().map(|d| 10 - d));
            out.push(11);
            out
        } else {
            let mut out = vec![0x03];
            out.extend_from_slice(&biased.to_be_bytes());
            out.extend(self.digits.iter().map(|d| d + 1));
            out
        }
    }
}

fn cmp_mag(a: &[u8], b: &[u8]) -> Ordering {
    a.len().cmp(&b.len()).then_with(|| a.cmp(b))
}

/// Sum of two most-significant-first digit strings.
fn add_mag(a: &[u8], b: &[u8]) -> Vec<u8> {
    let len = a.len().max(b.len()) + 1;
    let mut out = vec![0u8; len];
    let mut carry = 0;
    for i in 0..len {
        let da = if i < a.len() { a[a.len() - 1 - i] } else { 0 };
        let db = if i < b.len() { b[b.len() - 1 - i] } else { 0 };
        let s = da + db + carry;
        out[len - 1 - i] = s % 10;
        carry = s / 10;
    }
    out
}

/// a - b for a >= b (equal lengths after padding).
fn sub_mag(a: &[u8], b: &[u8]) -> Vec<u8> {
    let mut out = vec![0u8; a.len()];
    let mut borrow = 0i8;
    for i in 0..a.len() {
        let da = a[a.len() - 1 - i] as i8;
        let db = if i < b.len() { b[b.len() - 1 - i] as i8 } else { 0 };
        let mut d = da - db - borrow;
        borrow = 0;
        if d < 0 {
            d += 10;
            borrow = 1;
        }
        out[a.len() - 1 - i] = d as u8;
    }
    out
}

impl Ord for Number {
    fn cmp(&self, other: &Self) -> Ordering {
        let class = |n: &Number| {
            if n.is_zero() {
                1
            } else if n.negative {
                0
            } else {
                2
            }
        };
        match class(self).cmp(&class(other)) {
            Ordering::Equal => {}
            unequal => return unequal,
        }
        let magnitude = self.exp.cmp(&other.exp).then_with(|| self.digits.cmp(&other.digits));
        if self.negative { magnitude.reverse() } else { magnitude }
    }
}

impl PartialOrd for Number {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl std::fmt::Display for Number {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.is_zero() {
            return f.write_str("0");
        }
        let mut s = String::with_capacity(self.digits.len() + 8);
        if self.negative {
            s.push('-');
        }
        let digit = |d: &u8| char::from(b'0' + d);
        let n = self.digits.len() as i32;
        if self.exp <= 0 {
            s.push_str("0.");
            s.extend(std::iter::repeat_n('0', (-self.exp) as usize));
            s.extend(self.digits.iter().map(digit));
        } else if self.exp >= n {
            s.extend(self.digits.iter().map(digit));
            s.extend(std::iter::repeat_n('0', (self.exp - n) as usize));
        } else {
            let (int, frac) = self.digits.split_at(self.exp as usize);
            s.extend(int.iter().map(digit));
            s.push('.');
            s.extend(frac.iter().map(digit));
        }
        f.write_str(&s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn n(s: &str) -> Number {
        Number::parse(s).unwrap()
    }

    #[test]
    fn normalises_like_dynamodb() {
        for (input, out) in [
            ("1.50", "1.5"),
            ("1E2", "100"),
            ("-0", "0"),
            ("0.000", "0"),
            ("+7", "7"),
            ("00012.3400", "12.34"),
            ("1e-5", "0.00001"),
            ("-12.5e1", "-125"),
            (".5", "0.5"),
            ("5.", "5"),
        ] {
            assert_eq!(n(input).to_string(), out, "{input}");
        }
    }

    #[test]
    fn enforces_range_and_precision() {
        assert_eq!(Number::parse("1E126"), Err(NumberError::Overflow));
        assert!(Number::parse("9.9999999999999999999999999999999999999E125").is_ok());
        assert!(Number::parse("1E-130").is_ok());
        assert_eq!(Number::parse("1E-131"), Err(NumberError::Underflow));
        assert_eq!(Number::parse("123456789012345678901234567890123456789"), Err(NumberError::Precision));
        assert!(Number::parse("12345678901234567890123456789012345678").is_ok());
        assert!(Number::parse("1e99999999999999999999999").is_err());
        for bad in ["abc", "1..2", "--1", "1e", "e5", ".", "1 ", " 1", "0x10", "NaN", "Infinity"] {
            assert!(matches!(Number::parse(bad), Err(NumberError::Invalid(_))), "{bad}");
        }
        assert_eq!(Number::parse(""), Err(NumberError::Empty));
    }

    #[test]
    fn compares_numerically() {
        let sorted =
            ["-1000", "-10.5", "-10.25", "-10", "-0.001", "0", "0.0001", "0.1", "0.12", "1", "9", "10", "1E10"];
        for w in sorted.windows(2) {
            assert!(n(w[0]) < n(w[1]), "{} < {}", w[0], w[1]);
            assert!(n(w[0]).sort_key() < n(w[1]).sort_key(), "sort key {} < {}", w[0], w[1]);
        }
        assert_eq!(n("1.0"), n("1"));
        assert_eq!(n("1.0").sort_key(), n("1").sort_key());
    }

    #[test]
    fn adds_and_subtracts_exactly() {
        assert_eq!(n("0.1").add(&n("0.2")).unwrap().to_string(), "0.3");
        assert_eq!(n("10").sub(&n("10.5")).unwrap().to_string(), "-0.5");
        assert_eq!(n("-5").add(&n("5")).unwrap().to_string(), "0");
        assert_eq!(n("99").add(&n("1")).unwrap().to_string(), "100");
        assert_eq!(n("1E125").add(&n("1E-130")), Err(NumberError::Precision));
        assert_eq!(n("9.9999999999999999999999999999999999999E125").add(&n("1E125")), Err(NumberError::Overflow));
    }
}
