//! Page cursors: an opaque token for "items strictly older than this one" (its time and
//! id), the same for every list the service pages newest first.

use super::ApiError;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

pub fn encode(at_us: i64, id: &str) -> String {
    URL_SAFE_NO_PAD.encode(format!("{at_us}|{id}"))
}

pub fn decode(c: &str) -> Result<(i64, String), ApiError> {
    let bad = || ApiError::invalid("cursor", "is not a cursor this service gave");
    let text =
        String::from_utf8(URL_SAFE_NO_PAD.decode(c).map_err(|_| bad())?).map_err(|_| bad())?;
    let (at, id) = text.split_once('|').ok_or_else(bad)?;
    Ok((at.parse().map_err(|_| bad())?, id.to_owned()))
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_cursor_reads_back_and_a_made_up_one_is_refused() {
        assert_eq!(
            super::decode(&super::encode(17, "a|b")).unwrap(),
            (17, "a|b".into())
        );
        assert!(super::decode("not-a-cursor").is_err());
    }
}
