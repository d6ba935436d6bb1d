/*!
What a 4xx from Stripe means for a list, told from Stripe's answer. Pure functions, so the rules
can be read and tested in one place.

**Product not enabled** is a heuristic on Stripe's English message: Stripe answers a request to a
product the account has not activated (Issuing: "Your account is not set up to use Issuing. …")
with a 400 `invalid_request_error` that carries neither a `code` nor a `param`, so nothing but the
message tells it apart from a bad request. The phrases below are the ones Stripe uses for such
refusals; a 400 whose message has none of them stays an error that stops the run, and one that
names a parameter or a missing object never counts.

**A cursor that is gone**: Stripe answers a list request whose `starting_after` names an object
deleted since the previous page with 400 `resource_missing` (`param: starting_after`), message
"No such <object>: '<id>'". The client keeps Stripe's message and code (`"… [resource_missing]"`),
so the rule is: a 400, that code, and the cursor's id quoted in the message.
*/

/// Why Stripe will not list a stream for an account.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// 403: the (restricted) key lacks the permission. Data may be missing: the run ends with exit 3.
    Forbidden,
    /// 400: the account has not activated the product (Issuing, …). It holds no data there, so
    /// nothing is missing: a warning, and the run still succeeds.
    NotEnabled,
}

/// Phrases of Stripe's messages refusing a product the account has not activated (lowercase).
const NOT_ENABLED: &[&str] = &[
    "not set up to use",
    "is not enabled for your account",
    "not enabled on your account",
    "has not been enabled",
    "has not been activated",
    "is not activated",
    "not been activated for your account",
    "does not have access to this feature",
    "does not have access to this product",
];

/// Whether a failed list request (`status`, Stripe's message as the client reports it) says the
/// account has not activated the product the stream belongs to (see the module's heuristic).
pub fn product_not_enabled(status: u16, message: &str) -> bool {
    if status != 400 {
        return false;
    }
    let m = message.to_ascii_lowercase();
    // A bad parameter or a missing object is a request problem, whatever else the message says.
    if m.contains("[resource_missing]") || m.contains("[parameter_") || m.contains("unknown parameter") || m.starts_with("no such ") {
        return false;
    }
    NOT_ENABLED.iter().any(|p| m.contains(p))
}

/// Whether a failed list request that carried `starting_after=cursor` was refused because that
/// object no longer exists (deleted between two pages).
pub fn missing_cursor(status: u16, message: &str, cursor: &str) -> bool {
    status == 400 && !cursor.is_empty() && message.contains("[resource_missing]") && message.contains(&format!("'{cursor}'"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn product_not_enabled_is_told_from_stripes_message() {
        let table: &[(u16, &str, bool)] = &[
            (
                400,
                "Your account is not set up to use Issuing. Please visit https://dashboard.stripe.com/issuing/overview to get started.",
                true,
            ),
            (400, "Your account is not set up to use Treasury.", true),
            (400, "Stripe Tax has not been activated on your account.", true),
            (400, "Climate is not enabled for your account.", true),
            (400, "Your account does not have access to this feature.", true),
            // Not a product refusal: a request problem, which stops the run.
            (400, "Received unknown parameter: created [parameter_unknown]", false),
            (400, "No such charge: 'ch_1' [resource_missing]", false),
            (400, "Invalid integer: abc", false),
            (400, "You may only specify one of these parameters: ending_before, starting_after.", false),
            // Other statuses are not this rule's.
            (403, "Your account is not set up to use Issuing.", false),
            (404, "Unrecognized request URL (GET: /v1/issuing/cards).", false),
        ];
        for (status, message, want) in table {
            assert_eq!(product_not_enabled(*status, message), *want, "{status} {message}");
        }
    }

    #[test]
    fn a_missing_cursor_is_a_400_resource_missing_naming_it() {
        assert!(missing_cursor(400, "No such customer: 'cus_1' [resource_missing]", "cus_1"));
        assert!(!missing_cursor(400, "No such customer: 'cus_1' [resource_missing]", "cus_2"), "another object");
        assert!(!missing_cursor(404, "No such customer: 'cus_1' [resource_missing]", "cus_1"), "the parent in the path");
        assert!(!missing_cursor(400, "No such customer: 'cus_1'", "cus_1"), "no code");
        assert!(!missing_cursor(400, "No such customer: '' [resource_missing]", ""));
    }
}
