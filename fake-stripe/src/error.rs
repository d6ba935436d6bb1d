/*!
Stripe's error responses: `{"error": {code?, doc_url?, message, param?, request_log_url?, type}}`.

Messages follow the ones Stripe returns (https://docs.stripe.com/api/errors); the constructors are named
after the situation, so handlers read like the API's rules.
*/

use serde_json::{json, Map, Value};

#[derive(Debug, Clone, PartialEq)]
pub struct ApiError {
    pub status: u16,
    /// `invalid_request_error`, `api_error`, ...
    pub error_type: &'static str,
    pub message: String,
    pub code: Option<&'static str>,
    pub param: Option<String>,
    /// Extra response headers (`Stripe-Should-Retry`, `Retry-After`, `WWW-Authenticate`).
    pub headers: Vec<(&'static str, String)>,
}

impl ApiError {
    fn new(status: u16, error_type: &'static str, message: impl Into<String>) -> ApiError {
        ApiError { status, error_type, message: message.into(), code: None, param: None, headers: Vec::new() }
    }

    pub fn with_param(mut self, param: impl Into<String>) -> ApiError {
        self.param = Some(param.into());
        self
    }

    pub fn with_code(mut self, code: &'static str) -> ApiError {
        self.code = Some(code);
        self
    }

    pub fn with_header(mut self, name: &'static str, value: impl Into<String>) -> ApiError {
        self.headers.push((name, value.into()));
        self
    }

    /// 400 `invalid_request_error`.
    pub fn invalid(message: impl Into<String>) -> ApiError {
        ApiError::new(400, "invalid_request_error", message)
    }

    /// 400 for a query parameter the endpoint does not declare.
    pub fn unknown_parameter(name: &str) -> ApiError {
        ApiError::invalid(format!("Received unknown parameter: {name}")).with_param(name)
    }

    /// `resource_missing`: 404 for an id in the path, 400 for an id in a parameter (e.g. a cursor).
    pub fn no_such(object: &str, id: &str, param: &str, status: u16) -> ApiError {
        ApiError::new(status, "invalid_request_error", format!("No such {object}: '{id}'")).with_code("resource_missing").with_param(param)
    }

    /// 404 for a path the API does not have.
    pub fn unrecognized_url(method: &str, path: &str) -> ApiError {
        ApiError::new(
            404,
            "invalid_request_error",
            format!(
                "Unrecognized request URL ({method}: {path}). Please see https://stripe.com/docs or we can help at \
                 https://support.stripe.com/."
            ),
        )
    }

    /// 401 without an API key.
    pub fn missing_key() -> ApiError {
        ApiError::new(
            401,
            "invalid_request_error",
            "You did not provide an API key. You need to provide your API key in the Authorization header, using \
             Bearer auth (e.g. 'Authorization: Bearer YOUR_SECRET_KEY'). See https://stripe.com/docs/api#authentication \
             for details, or we can help at https://support.stripe.com/.",
        )
        .with_header("WWW-Authenticate", "Basic realm=\"Stripe\"")
    }

    /// 401 with a key that is not the configured one.
    pub fn invalid_key(key: &str) -> ApiError {
        ApiError::new(401, "invalid_request_error", format!("Invalid API Key provided: {}", mask_key(key)))
            .with_header("WWW-Authenticate", "Basic realm=\"Stripe\"")
    }

    /// 403 for a (restricted) key without permission for the endpoint.
    pub fn permission(key: &str, account: &str, permission: &str) -> ApiError {
        ApiError::new(
            403,
            "invalid_request_error",
            format!(
                "The provided key '{}' does not have the required permissions for this endpoint on account \
                 '{account}'. Having the '{permission}' permission would allow this request to continue.",
                mask_key(key)
            ),
        )
    }

    /// 403 for a `Stripe-Account` header naming an account the key cannot reach.
    pub fn account_invalid(key: &str, account: &str) -> ApiError {
        ApiError::new(
            403,
            "invalid_request_error",
            format!(
                "The provided key '{}' does not have access to account '{account}' (or that account does not exist). \
                 Application access may have been revoked.",
                mask_key(key)
            ),
        )
        .with_code("account_invalid")
    }

    /// 403 for another account's data when the key's account is not a Connect platform.
    pub fn platform_only() -> ApiError {
        ApiError::new(
            403,
            "invalid_request_error",
            "Only Stripe Connect platforms can work with other accounts. If you specified a client_id parameter, make \
             sure it's correct. If you need to setup a Stripe Connect platform, you can do so at \
             https://dashboard.stripe.com/account/applications/settings.",
        )
    }

    /// 403 for `GET /v1/accounts` on behalf of a connected account.
    pub fn accounts_of_connected() -> ApiError {
        ApiError::new(403, "invalid_request_error", "You cannot access the connected accounts of your platform's connected accounts.")
    }

    /// 429 from the rate limiter.
    pub fn rate_limited() -> ApiError {
        ApiError::new(
            429,
            "invalid_request_error",
            "Request rate limit exceeded. You can learn more about rate limits here https://stripe.com/docs/rate-limits.",
        )
        .with_code("rate_limit")
    }

    /// 429 from one of the fake's rate limiters (`limit` requests/s; `endpoint` for the
    /// per-endpoint one): Stripe's message and `Stripe-Rate-Limited-Reason`, plus which limit.
    pub fn rate_limited_by(limiter: crate::switches::Limiter, endpoint: &str, limit: Option<u32>) -> ApiError {
        let mut e = ApiError::rate_limited();
        let limit = limit.map_or_else(String::new, |n| format!(" of {n} requests/s"));
        e.message = match limiter {
            crate::switches::Limiter::Global => format!("{} (fake-stripe: the global limit{limit})", e.message),
            crate::switches::Limiter::Endpoint => format!("{} (fake-stripe: the per-endpoint limit{limit} of {endpoint})", e.message),
        };
        e.with_header("Stripe-Rate-Limited-Reason", limiter.reason())
    }

    /// A simulated failure with any status (429 gets the rate-limit body, 5xx an `api_error`).
    pub fn simulated(status: u16) -> ApiError {
        match status {
            429 => ApiError::rate_limited(),
            500 => ApiError::new(
                500,
                "api_error",
                "Sorry, something went wrong. We've already been notified of the problem, but if you need any help, \
                 you can reach us at https://support.stripe.com/contact.",
            ),
            s if s >= 500 => ApiError::new(
                s,
                "api_error",
                "The Stripe API is temporarily unavailable. Please retry your request with exponential backoff.",
            ),
            409 => ApiError::new(
                409,
                "invalid_request_error",
                "This object cannot be accessed right now because another API request or Stripe process is currently \
                 accessing it. Please retry your request.",
            )
            .with_code("lock_timeout"),
            s => ApiError::new(s, "invalid_request_error", "Simulated failure."),
        }
    }

    /// The JSON body: `{"error": {...}}` with Stripe's key order (alphabetical).
    pub fn body(&self, request_id: &str) -> Value {
        let mut e = Map::new();
        if let Some(code) = self.code {
            e.insert("code".into(), json!(code));
            e.insert("doc_url".into(), json!(format!("https://stripe.com/docs/error-codes/{}", code.replace('_', "-"))));
        }
        e.insert("message".into(), json!(self.message));
        if let Some(p) = &self.param {
            e.insert("param".into(), json!(p));
        }
        if self.status != 401 && self.status < 500 {
            e.insert("request_log_url".into(), json!(format!("https://dashboard.stripe.com/test/logs/{request_id}")));
        }
        e.insert("type".into(), json!(self.error_type));
        json!({ "error": e })
    }
}

/// Masks a key like Stripe: the prefix (`sk_test_`, `rk_live_`, ...) and the last four characters stay.
pub fn mask_key(key: &str) -> String {
    let prefix_len = ["sk_", "rk_", "pk_"]
        .iter()
        .find(|p| key.starts_with(*p))
        .map(|_| if key[3..].starts_with("test_") || key[3..].starts_with("live_") { 8 } else { 3 })
        .unwrap_or(0);
    let chars: Vec<char> = key.chars().collect();
    if chars.len() <= prefix_len + 4 {
        return key.chars().take(prefix_len).chain("****".chars()).collect();
    }
    let keep_end = chars.len() - 4;
    chars.iter().enumerate().map(|(i, c)| if i < prefix_len || i >= keep_end { *c } else { '*' }).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn masks_like_stripe() {
        assert_eq!(mask_key("sk_test_1234567890abcd"), "sk_test_**********abcd");
        assert_eq!(mask_key("rk_live_xyzw0000"), "rk_live_****0000");
        assert_eq!(mask_key("sk_test_ab"), "sk_test_****");
        assert_eq!(mask_key("whatever1234"), "********1234");
    }

    #[test]
    fn body_has_stripe_fields() {
        let b = ApiError::no_such("customer", "cus_x", "id", 404).body("req_1");
        assert_eq!(b["error"]["code"], "resource_missing");
        assert_eq!(b["error"]["message"], "No such customer: 'cus_x'");
        assert_eq!(b["error"]["param"], "id");
        assert_eq!(b["error"]["type"], "invalid_request_error");
        assert_eq!(b["error"]["doc_url"], "https://stripe.com/docs/error-codes/resource-missing");
    }
}
