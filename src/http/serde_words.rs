//! serde's error messages in the API's words: a client learns which field is wrong and what
//! it must be, never a Rust type (`f64`, `u32`, `struct FeasibilityRequest`).

/// The field at fault and what to tell about it, from serde's `path` (`.` for the top) and
/// message. Messages that name a field (`missing field `x``) move the field into the path.
pub fn describe(path: &str, message: &str) -> (String, String) {
    let message = strip_position(message);
    // serde_path_to_error's path ends at the unknown field itself, but at the parent of a
    // missing one.
    let child = |name: &str| match path {
        "." | "" => name.to_owned(),
        p if p == name || p.ends_with(&format!(".{name}")) => p.to_owned(),
        parent => format!("{parent}.{name}"),
    };
    if let Some(name) = quoted_after(message, "missing field ") {
        return (child(name), "is required".into());
    }
    if let Some(name) = quoted_after(message, "unknown field ") {
        let known = message
            .split_once("expected ")
            .map(|(_, rest)| format!(" (known fields: {})", rest.replace('`', "")))
            .unwrap_or_default();
        return (
            child(name),
            format!("is not a field of this request{known}"),
        );
    }
    if let Some(name) = quoted_after(message, "duplicate field ") {
        return (child(name), "is given more than once".into());
    }
    let field = match path {
        "." | "" => "body".to_owned(),
        p => p.to_owned(),
    };
    (field, reworded(message))
}

/// The message with serde's types replaced by what the client sends.
fn reworded(message: &str) -> String {
    for prefix in ["invalid type: ", "invalid value: "] {
        if let Some(rest) = message.strip_prefix(prefix)
            && let Some((got, expected)) = rest.split_once(", expected ")
        {
            return format!(
                "must be {} (got {})",
                expected_words(expected),
                got_words(got)
            );
        }
    }
    if let Some(rest) = message.strip_prefix("invalid length ")
        && let Some((_, expected)) = rest.split_once(", expected ")
    {
        return format!("must be {}", expected_words(expected));
    }
    if let Some(rest) = message.strip_prefix("unknown variant ")
        && let Some((got, expected)) = rest.split_once(", expected ")
    {
        let expected = expected
            .trim_start_matches("one of ")
            .trim_start_matches("a ")
            .replace('`', "");
        return format!("must be one of {expected} (got {})", got.replace('`', "\""));
    }
    // Query strings: the parser's word for a bad number or flag.
    match message {
        "invalid digit found in string" | "cannot parse integer from empty string" => {
            "must be a whole number".into()
        }
        "invalid float literal" | "cannot parse float from empty string" => {
            "must be a number".into()
        }
        "number too large to fit in target type" | "number too small to fit in target type" => {
            "is out of range".into()
        }
        "provided string was not `true` or `false`" => "must be true or false".into(),
        other => other.to_owned(),
    }
}

/// serde's "expected ..." in the API's words.
fn expected_words(expected: &str) -> String {
    let e = expected.trim();
    match e {
        "f64" | "f32" => "a number".into(),
        "u8" | "u16" | "u32" | "u64" | "u128" | "usize" => "a whole number, 0 or more".into(),
        "i8" | "i16" | "i32" | "i64" | "i128" | "isize" => "a whole number".into(),
        "a boolean" | "bool" => "true or false".into(),
        "a string" | "a borrowed string" | "char" => "a string".into(),
        "a sequence" => "a list".into(),
        "a map" => "an object".into(),
        _ if e.starts_with("struct ") || e.starts_with("a map") => "an object".into(),
        _ if e.starts_with("a sequence") || e.starts_with("tuple") || e.starts_with("an array") => {
            "a list".into()
        }
        _ if e.starts_with("enum ") || e.starts_with("variant ") => {
            "one of the documented values".into()
        }
        other => other.replace('`', ""),
    }
}

/// serde's "invalid type: <got>" in JSON's words.
fn got_words(got: &str) -> String {
    match got {
        "map" => "an object".into(),
        "sequence" => "a list".into(),
        "null" | "unit value" => "null".into(),
        other => other
            .replace("floating point ", "")
            .replace("integer ", "")
            .replace("boolean ", "")
            .replace('`', ""),
    }
}

/// `name` in "... `name`..." right after `prefix`.
fn quoted_after<'a>(message: &'a str, prefix: &str) -> Option<&'a str> {
    let rest = message.strip_prefix(prefix)?.strip_prefix('`')?;
    rest.split_once('`').map(|(name, _)| name)
}

/// serde_json adds " at line L column C": the field already says where.
fn strip_position(message: &str) -> &str {
    match message.rfind(" at line ") {
        Some(at) if message[at..].contains(" column ") => &message[..at],
        _ => message,
    }
}

#[cfg(test)]
mod tests {
    use super::describe;

    fn d(path: &str, message: &str) -> (String, String) {
        describe(path, message)
    }

    #[test]
    fn rust_types_become_the_apis_words() {
        assert_eq!(
            d(
                "lat",
                "invalid type: string \"x\", expected f64 at line 1 column 12"
            ),
            ("lat".into(), "must be a number (got string \"x\")".into())
        );
        assert_eq!(
            d(
                ".",
                "invalid type: sequence, expected struct FeasibilityRequest"
            ),
            ("body".into(), "must be an object (got a list)".into())
        );
        assert_eq!(
            d(
                ".",
                "invalid length 7, expected struct FeasibilityRequest with 7 elements"
            ),
            ("body".into(), "must be an object".into())
        );
        assert_eq!(
            d("limit", "invalid value: integer `-1`, expected u32"),
            (
                "limit".into(),
                "must be a whole number, 0 or more (got -1)".into()
            )
        );
        assert_eq!(
            d(
                "status",
                "unknown variant `dead`, expected one of `pending`, `confirmed`"
            ),
            (
                "status".into(),
                "must be one of pending, confirmed (got \"dead\")".into()
            )
        );
        assert_eq!(
            d("ports", "invalid type: floating point `8.5`, expected u16").1,
            "must be a whole number, 0 or more (got 8.5)"
        );
    }

    #[test]
    fn messages_naming_a_field_move_it_into_the_path() {
        assert_eq!(
            d("customer", "missing field `name` at line 1 column 40"),
            ("customer.name".into(), "is required".into())
        );
        assert_eq!(
            d(".", "unknown field `radius`, expected `lat` or `lon`"),
            (
                "radius".into(),
                "is not a field of this request (known fields: lat or lon)".into()
            )
        );
        assert_eq!(
            d(".", "duplicate field `limit`"),
            ("limit".into(), "is given more than once".into())
        );
    }

    #[test]
    fn query_parser_words_are_reworded() {
        assert_eq!(
            d("limit", "invalid digit found in string").1,
            "must be a whole number"
        );
        assert_eq!(d("lat", "invalid float literal").1, "must be a number");
        assert_eq!(
            d("flag", "provided string was not `true` or `false`").1,
            "must be true or false"
        );
        // Our own messages pass unchanged.
        assert_eq!(
            d("limit", "must be at most 10000").1,
            "must be at most 10000"
        );
    }
}
