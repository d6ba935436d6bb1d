/*!
Query strings checked against the parameters the spec declares for an endpoint.

Stripe encodes nested parameters with brackets: `created[gte]=1`, `expand[]=data.customer` (or
`expand[0]=…`), `types[]=…`. A parameter the endpoint does not declare is rejected with
`Received unknown parameter: <name>`; an empty value counts as absent.
*/

use crate::error::ApiError;
use crate::templates::ParamKind;
use std::collections::BTreeMap;

/// A `created`-style filter: `N` or any of `[gt|gte|lt|lte]=N`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Range {
    pub gt: Option<i64>,
    pub gte: Option<i64>,
    pub lt: Option<i64>,
    pub lte: Option<i64>,
}

impl Range {
    pub fn contains(&self, t: i64) -> bool {
        self.gt.is_none_or(|x| t > x) && self.gte.is_none_or(|x| t >= x) && self.lt.is_none_or(|x| t < x) && self.lte.is_none_or(|x| t <= x)
    }

    /// The smallest and largest value that can match, for a binary search over sorted times.
    pub fn bounds(&self) -> (i64, i64) {
        let lo = [self.gt.map(|x| x.saturating_add(1)), self.gte].into_iter().flatten().max().unwrap_or(i64::MIN);
        let hi = [self.lt.map(|x| x.saturating_sub(1)), self.lte].into_iter().flatten().min().unwrap_or(i64::MAX);
        (lo, hi)
    }
}

/// A checked query string.
#[derive(Debug, Default)]
pub struct Query {
    scalars: BTreeMap<String, String>,
    arrays: BTreeMap<String, Vec<String>>,
    ranges: BTreeMap<String, Range>,
}

fn invalid_integer(value: &str, param: &str) -> ApiError {
    ApiError::invalid(format!("Invalid integer: {value}")).with_param(param)
}

impl Query {
    /// Parses `raw` (without the `?`), accepting only the parameters in `params`.
    pub fn parse(raw: &str, params: &BTreeMap<String, ParamKind>) -> Result<Query, ApiError> {
        let mut q = Query::default();
        for (key, value) in form_urlencoded::parse(raw.as_bytes()) {
            let (base, sub) = match key.find('[') {
                Some(i) if key.ends_with(']') => (&key[..i], Some(&key[i + 1..key.len() - 1])),
                _ => (&key[..], None),
            };
            let Some(kind) = params.get(base) else {
                return Err(ApiError::unknown_parameter(&key));
            };
            match (kind, sub) {
                (ParamKind::String | ParamKind::Integer | ParamKind::Boolean, None) => {
                    if value.is_empty() {
                        continue;
                    }
                    match kind {
                        ParamKind::Integer if value.parse::<i64>().is_err() => {
                            return Err(invalid_integer(&value, base));
                        }
                        ParamKind::Boolean if value != "true" && value != "false" => {
                            return Err(ApiError::invalid(format!("Invalid boolean: {value}")).with_param(base));
                        }
                        _ => {}
                    }
                    q.scalars.insert(base.to_string(), value.into_owned());
                }
                (ParamKind::Range, None) => {
                    let t = value.parse::<i64>().map_err(|_| invalid_integer(&value, base))?;
                    let r = q.ranges.entry(base.to_string()).or_default();
                    r.gte = Some(t);
                    r.lte = Some(t);
                }
                (ParamKind::Range, Some(op @ ("gt" | "gte" | "lt" | "lte"))) => {
                    let t = value.parse::<i64>().map_err(|_| invalid_integer(&value, &key))?;
                    let r = q.ranges.entry(base.to_string()).or_default();
                    match op {
                        "gt" => r.gt = Some(t),
                        "gte" => r.gte = Some(t),
                        "lt" => r.lt = Some(t),
                        _ => r.lte = Some(t),
                    }
                }
                (ParamKind::Array, Some(i)) if i.chars().all(|c| c.is_ascii_digit()) => {
                    q.arrays.entry(base.to_string()).or_default().push(value.into_owned());
                }
                (ParamKind::Hash, Some(sub)) if !sub.is_empty() => {
                    q.scalars.insert(format!("{base}[{sub}]"), value.into_owned());
                }
                (ParamKind::Array, None) => {
                    return Err(ApiError::invalid("Invalid array").with_param(base));
                }
                _ => return Err(ApiError::unknown_parameter(&key)),
            }
        }
        Ok(q)
    }

    pub fn str(&self, name: &str) -> Option<&str> {
        self.scalars.get(name).map(String::as_str)
    }

    /// An integer parameter (already checked by `parse`).
    pub fn int(&self, name: &str) -> Option<i64> {
        self.str(name).and_then(|v| v.parse().ok())
    }

    pub fn bool(&self, name: &str) -> Option<bool> {
        self.str(name).map(|v| v == "true")
    }

    pub fn array(&self, name: &str) -> &[String] {
        self.arrays.get(name).map(Vec::as_slice).unwrap_or(&[])
    }

    pub fn has_array(&self, name: &str) -> bool {
        self.arrays.contains_key(name)
    }

    pub fn range(&self, name: &str) -> Option<Range> {
        self.ranges.get(name).copied()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params() -> BTreeMap<String, ParamKind> {
        [
            ("created", ParamKind::Range),
            ("limit", ParamKind::Integer),
            ("expand", ParamKind::Array),
            ("starting_after", ParamKind::String),
            ("delivery_success", ParamKind::Boolean),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .collect()
    }

    #[test]
    fn parses_brackets() {
        let q = Query::parse("created%5Bgte%5D=5&created[lt]=9&expand[]=a&expand[1]=b&limit=3", &params()).unwrap();
        assert_eq!(q.range("created"), Some(Range { gte: Some(5), lt: Some(9), ..Range::default() }));
        assert_eq!(q.array("expand"), ["a", "b"]);
        assert_eq!(q.int("limit"), Some(3));
        let q = Query::parse("created=7&starting_after=", &params()).unwrap();
        assert!(q.range("created").unwrap().contains(7));
        assert!(!q.range("created").unwrap().contains(8));
        assert_eq!(q.str("starting_after"), None);
    }

    #[test]
    fn rejects_unknown_and_malformed() {
        let e = Query::parse("foo=1", &params()).unwrap_err();
        assert_eq!((e.status, e.message.as_str(), e.param.as_deref()), (400, "Received unknown parameter: foo", Some("foo")));
        let e = Query::parse("created[foo]=1", &params()).unwrap_err();
        assert_eq!(e.message, "Received unknown parameter: created[foo]");
        assert_eq!(Query::parse("limit=x", &params()).unwrap_err().message, "Invalid integer: x");
        assert_eq!(Query::parse("created[gt]=x", &params()).unwrap_err().param.as_deref(), Some("created[gt]"));
        assert!(Query::parse("delivery_success=maybe", &params()).is_err());
    }

    #[test]
    fn range_bounds() {
        let r = Range { gt: Some(5), lte: Some(9), ..Range::default() };
        assert_eq!(r.bounds(), (6, 9));
        assert_eq!(Range::default().bounds(), (i64::MIN, i64::MAX));
    }
}
