/*!
Masking of secrets in every message the tap writes.

A Stripe key typed into the wrong setting (`account_id`, `base_url`, …) is quoted by the error
about that setting, and a server may echo the key it was sent. [`mask`] is applied where text
leaves the process (the stderr log writer, METRIC lines, Airbyte LOG, TRACE and CONNECTION_STATUS
lines), so no message shows a key, whatever produced it. Record data is never masked.

Masked: anything shaped like a Stripe key, `sk_`/`rk_`/`pk_` + `live_`/`test_` + a tail (also
Stripe's own `sk_test_****1234` form), `whsec_` + a tail, and `sk_`/`rk_`/`pk_` + a tail of 16 or
more letters and digits (keys without a mode), becomes its prefix and `****` (`sk_live_****`);
the password of a URL (`https://user:pass@host`) becomes `****`.
*/

use std::borrow::Cow;

const MASK: &str = "****";
/// `sk_`/`rk_`/`pk_` with a tail this long is a key even without `live_`/`test_`.
const BARE_TAIL: usize = 16;

/// `text` with every key-shaped word and URL password replaced by `****` (borrowed when there is
/// nothing to mask).
pub fn mask(text: &str) -> Cow<'_, str> {
    let bytes = text.as_bytes();
    let mut out = String::new();
    let mut copied = 0;
    let mut i = 0;
    while i < bytes.len() {
        match key_at(bytes, i).or_else(|| password_at(bytes, i)) {
            // Matches start and end at ASCII bytes, so the slices are on char boundaries.
            Some((keep, end)) => {
                out.push_str(&text[copied..i + keep]);
                out.push_str(MASK);
                copied = end;
                i = end;
            }
            None => i += 1,
        }
    }
    if copied == 0 {
        return Cow::Borrowed(text);
    }
    out.push_str(&text[copied..]);
    Cow::Owned(out)
}

/// A key starting at `i`: (bytes of prefix kept, end of the key).
fn key_at(b: &[u8], i: usize) -> Option<(usize, usize)> {
    if i > 0 && b[i - 1].is_ascii_alphanumeric() {
        return None;
    }
    let rest = &b[i..];
    let tail = |from: usize, also: &[u8]| rest[from..].iter().take_while(|c| c.is_ascii_alphanumeric() || also.contains(c)).count();
    if rest.starts_with(b"whsec_") {
        let n = tail(6, b"*");
        return (n > 0).then_some((6, i + 6 + n));
    }
    if !(rest.starts_with(b"sk_") || rest.starts_with(b"rk_") || rest.starts_with(b"pk_")) {
        return None;
    }
    if rest[3..].starts_with(b"live_") || rest[3..].starts_with(b"test_") {
        let n = tail(8, b"_*");
        return (n > 0).then_some((8, i + 8 + n));
    }
    let n = tail(3, b"*");
    (n >= BARE_TAIL).then_some((3, i + 3 + n))
}

/// A URL password: at the `://` at `i`, (bytes kept up to the password, end of the password).
fn password_at(b: &[u8], i: usize) -> Option<(usize, usize)> {
    if !b[i..].starts_with(b"://") {
        return None;
    }
    let start = i + 3;
    let len = b[start..].iter().take_while(|c| !(c.is_ascii_whitespace() || c.is_ascii_control() || b"/?#\"'\\<>`".contains(c))).count();
    let authority = &b[start..start + len];
    let at = authority.iter().rposition(|&c| c == b'@')?;
    let colon = authority[..at].iter().position(|&c| c == b':')?;
    (colon + 1 < at).then_some((3 + colon + 1, start + at))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn masks_keys_and_url_passwords() {
        let cases: &[(&str, &str)] = &[
            // Keys, whatever the mode, the kind and the surroundings.
            ("sk_live_4eC39HqLyjWDarjtT1zdp7dc", "sk_live_****"),
            ("got \"sk_test_abc_DEF123\", expected acct_", "got \"sk_test_****\", expected acct_"),
            ("rk_live_51Hx, rk_test_9", "rk_live_****, rk_test_****"),
            ("pk_live_abc pk_test_xyz", "pk_live_**** pk_test_****"),
            ("whsec_0a1b2c3d", "whsec_****"),
            ("[\"acct_1\",\"sk_live_x\"]", "[\"acct_1\",\"sk_live_****\"]"),
            ("key=sk_live_abc&x=1", "key=sk_live_****&x=1"),
            ("sk_live_abc\\n", "sk_live_****\\n"),
            // Stripe's own 401 message shows the last four characters: those go too.
            ("Invalid API Key provided: sk_test_********************1234", "Invalid API Key provided: sk_test_****"),
            // Keys without a mode: a long tail only.
            ("sk_4eC39HqLyjWDarjtT1zdp7dc", "sk_****"),
            ("sk_short12", "sk_short12"),
            // Not keys: a prefix alone (help texts), inside a word, another id.
            ("must start with sk_live_, sk_test_, rk_live_ or rk_test_", "must start with sk_live_, sk_test_, rk_live_ or rk_test_"),
            ("sk_live_…", "sk_live_…"),
            ("desk_test_results task_1234567890abcdefghij", "desk_test_results task_1234567890abcdefghij"),
            ("acct_1Example cus_NffrFeUfNV2Hib", "acct_1Example cus_NffrFeUfNV2Hib"),
            ("", ""),
            // URL passwords; a user alone stays.
            ("http://user:pass@stripe.example.com/v1", "http://user:****@stripe.example.com/v1"),
            ("got \"https://u:p%40ss@h:1\"", "got \"https://u:****@h:1\""),
            ("http://user:sk_live_abc@host", "http://user:****@host"),
            ("http://user@host http://host:8080/a@b", "http://user@host http://host:8080/a@b"),
            ("http://user:@host", "http://user:@host"),
            ("https://a:b@c and https://d:e@f", "https://a:****@c and https://d:****@f"),
            // Non-ASCII text around a key.
            ("clé « sk_live_é » sk_live_x→", "clé « sk_live_é » sk_live_****→"),
        ];
        for (text, want) in cases {
            assert_eq!(mask(text), *want, "mask({text:?})");
        }
    }

    #[test]
    fn nothing_to_mask_borrows() {
        assert!(matches!(mask("GET /v1/charges?limit=100 failed"), Cow::Borrowed(_)));
    }
}
