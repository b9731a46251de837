//! Reading the function's configuration from its environment. Each function reads its
//! variables per invocation through a lookup function, so a missing variable becomes a
//! clear error of that invocation (never a panic at start-up) and tests need not touch
//! the process environment.

use crate::error::ConfigError;

/// How a function looks up a variable: [`process`] in the Lambda, a map in tests.
pub type Lookup<'a> = &'a dyn Fn(&str) -> Option<String>;

/// The process environment; a variable that is not valid Unicode counts as unset.
pub fn process(name: &str) -> Option<String> {
    std::env::var(name).ok()
}

/// The variable's value; unset or blank is [`ConfigError::Missing`].
pub fn required(lookup: Lookup<'_>, name: &'static str) -> Result<String, ConfigError> {
    optional(lookup, name).ok_or(ConfigError::Missing(name))
}

/// The variable's value, with unset and blank both meaning "not configured".
pub fn optional(lookup: Lookup<'_>, name: &'static str) -> Option<String> {
    lookup(name).map(|value| value.trim().to_owned()).filter(|value| !value.is_empty())
}

/// A positive integer, or `default` when the variable is unset.
pub fn positive_u32_or(lookup: Lookup<'_>, name: &'static str, default: u32) -> Result<u32, ConfigError> {
    match optional(lookup, name) {
        None => Ok(default),
        Some(value) => match value.parse::<u32>() {
            Ok(n) if n > 0 => Ok(n),
            _ => Err(ConfigError::Invalid { variable: name, value, expected: "expected a positive integer" }),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &'static [(&'static str, &'static str)]) -> impl Fn(&str) -> Option<String> {
        move |name| pairs.iter().find(|(k, _)| *k == name).map(|(_, v)| (*v).to_owned())
    }

    #[test]
    fn missing_or_blank_required_variable_is_named_in_the_error() {
        let lookup = env(&[("BLANK", "  ")]);
        assert_eq!(required(&lookup, "ABSENT"), Err(ConfigError::Missing("ABSENT")));
        let err = required(&lookup, "BLANK").unwrap_err();
        assert_eq!(err.to_string(), "environment variable BLANK is not set");
    }

    #[test]
    fn positive_integer_defaults_when_unset_and_rejects_garbage() {
        let lookup = env(&[("MAX_WIDTH", "120"), ("ZERO", "0"), ("WORDS", "wide")]);
        assert_eq!(positive_u32_or(&lookup, "MAX_WIDTH", 300), Ok(120));
        assert_eq!(positive_u32_or(&lookup, "MAX_HEIGHT", 300), Ok(300));
        let err = positive_u32_or(&lookup, "ZERO", 300).unwrap_err();
        assert!(err.to_string().contains("ZERO"), "{err}");
        assert!(positive_u32_or(&lookup, "WORDS", 300).is_err());
    }
}
